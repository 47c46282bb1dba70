import { Body, Controller, Get, HttpCode, Param, Post, Put, UseGuards } from '@nestjs/common';
import { ApiBearerAuth, ApiBody, ApiOperation, ApiTags } from '@nestjs/swagger';
import { Type } from '@sinclair/typebox';
import { ApiError, FieldProblem } from '../common/api-error';
import { NotFoundError } from '../common/domain-errors';
import { requestSchema } from '../common/request-schema';
import { AdminGuard } from '../portals/auth.guards';
import { PortalsService } from '../portals/portals.service';
import { DEFAULT_ROLLOUT_STAGES } from './writeback-guards';
import { WritebackReleases } from './writeback-releases';
import { WritebackReverts } from './writeback-reverts';

const handlerType = Type.String({ minLength: 1, maxLength: 63, description: 'A job type' });
const handlerVersion = Type.String({ minLength: 1, maxLength: 64, pattern: '^[0-9A-Za-z.+_-]+$', description: "A handler version, as GET /v1/handlers gives it" });

const settingsBody = requestSchema(
  Type.Object(
    {
      readBeforeWrite: Type.Boolean({
        description:
          'true (the default): each batch of writes is preceded by one batch read of its records, so a property a person changed ' +
          'after the job read the record is skipped (skipped_stale), and the previous values are kept for a revert. ' +
          'false: writes go blind, at half the HubSpot calls, and cannot be reverted.',
      }),
    },
    { additionalProperties: false },
  ),
);

const releaseBody = requestSchema(
  Type.Object(
    {
      dryRunOnly: Type.Optional(Type.Boolean({ description: "The version's writes to this portal are dry runs: computed, reported, not written" })),
      rollout: Type.Optional(
        Type.Union(
          [
            Type.Object(
              {
                stages: Type.Optional(
                  Type.Array(Type.Integer({ minimum: 1, maximum: 1_000_000_000 }), {
                    minItems: 1,
                    maxItems: 10,
                    description: `How many of the version's writes each stage lets through in all, ascending; after the last, all (default ${JSON.stringify(DEFAULT_ROLLOUT_STAGES)})`,
                  }),
                ),
                autoReleaseAfter: Type.Optional(
                  Type.Union([Type.Integer({ minimum: 1, maximum: 1_000_000 }), Type.Null()], {
                    description: 'Release the next stage by itself after this many clean writes in a stage (or all of a smaller stage); null: by an admin call',
                  }),
                ),
              },
              { additionalProperties: false },
            ),
            Type.Null(),
          ],
          { description: 'A staged rollout, counted from its first stage; null: none (held writes are released)' },
        ),
      ),
    },
    { additionalProperties: false, minProperties: 1 },
  ),
);

const releaseCallBody = requestSchema(
  Type.Object(
    {
      all: Type.Optional(Type.Boolean({ description: 'Release every stage at once (and end a pause or a revert)' })),
      reason: Type.Optional(Type.String({ minLength: 1, maxLength: 500, description: 'Why: kept in the audit record' })),
      actor: Type.Optional(Type.String({ minLength: 1, maxLength: 200, description: 'Who: kept in the audit record' })),
    },
    { additionalProperties: false },
  ),
);

const revertBody = requestSchema(
  Type.Object(
    {
      type: Type.Optional(handlerType),
      version: Type.Optional(handlerVersion),
      from: Type.Optional(Type.String({ format: 'date-time', description: 'Writes made at or after this time' })),
      to: Type.Optional(Type.String({ format: 'date-time', description: 'Writes made before this time' })),
    },
    {
      additionalProperties: false,
      description:
        'A handler version ({type, version}), or a time range ({from, to}, either may be left out; type and version narrow it). ' +
        'A revert of a version also withdraws its writes not yet made, until the version is released.',
    },
  ),
);

/**
 * Safe write-back, per portal: whether records are read before they are written, each handler
 * version's release (rollout, dry runs only, pause), and reverts.
 */
@ApiTags('admin')
@ApiBearerAuth()
@UseGuards(AdminGuard)
@Controller('v1/admin/portals/:id/writebacks')
export class WritebacksAdminController {
  constructor(
    private readonly portals: PortalsService,
    private readonly releases: WritebackReleases,
    private readonly reverts: WritebackReverts,
  ) {}

  @Get('settings')
  @ApiOperation({ summary: "The portal's write-back settings" })
  async settings(@Param('id') id: string) {
    await this.portals.findById(id);
    return this.releases.settings(id);
  }

  @Put('settings')
  @ApiOperation({ summary: "Change the portal's write-back settings; writers use them from their next batch" })
  @ApiBody({ schema: settingsBody.openApi })
  async setSettings(@Param('id') id: string, @Body() body: unknown) {
    const settings = settingsBody.parse(body);
    await this.portals.findById(id);
    return this.releases.setSettings(id, settings);
  }

  @Get('releases')
  @ApiOperation({ summary: 'Each handler version that wrote to the portal (or was set up for it): rollout, dry runs, pause, revert, held writes' })
  async list(@Param('id') id: string) {
    await this.portals.findById(id);
    return this.releases.list(id);
  }

  @Get('releases/:type/:version')
  @ApiOperation({ summary: "A handler version's write-back to the portal" })
  async get(@Param('id') id: string, @Param('type') type: string, @Param('version') version: string) {
    await this.portals.findById(id);
    return this.releases.get(id, ...versionOf(type, version));
  }

  @Put('releases/:type/:version')
  @ApiOperation({ summary: "Set a handler version's rollout (the first 1, 10, 100 writes, then all) or make it dry-run only, for the portal" })
  @ApiBody({ schema: releaseBody.openApi })
  async configure(@Param('id') id: string, @Param('type') type: string, @Param('version') version: string, @Body() body: unknown) {
    const change = releaseBody.parse(body);
    const stages = change.rollout?.stages;
    if (stages?.some((stage, i) => i > 0 && stage <= stages[i - 1])) {
      throw ApiError.validation([{ path: 'rollout.stages', message: 'must be ascending: each stage lets more writes through than the one before' }]);
    }
    await this.portals.findById(id);
    return this.releases.configure(id, ...versionOf(type, version), change);
  }

  @Post('releases/:type/:version/release')
  @HttpCode(200)
  @ApiOperation({ summary: 'End a pause or a revert, or release the next rollout stage (all: every stage); 409 when nothing holds the version; audited' })
  @ApiBody({ schema: releaseCallBody.openApi, required: false })
  async release(@Param('id') id: string, @Param('type') type: string, @Param('version') version: string, @Body() body: unknown) {
    const { all, reason, actor } = releaseCallBody.parse(body ?? {});
    await this.portals.findById(id);
    return this.releases.release(id, ...versionOf(type, version), all ?? false, { actor: actor ?? 'admin', reason });
  }

  @Post('revert')
  @HttpCode(202)
  @ApiOperation({
    summary:
      'Put back what a handler version (or the writes of a time range) wrote, in the records that still hold it; records changed since are left alone. ' +
      'Runs in the background within the portal budget; the answer, and GET …/reverts/:revertId, give its progress',
  })
  @ApiBody({ schema: revertBody.openApi })
  async revert(@Param('id') id: string, @Body() body: unknown) {
    const filter = revertBody.parse(body);
    const problems: FieldProblem[] = [];
    if (filter.version !== undefined && filter.type === undefined) problems.push({ path: 'type', message: 'is required with version' });
    if (filter.version === undefined && filter.from === undefined && filter.to === undefined) {
      problems.push({ path: '', message: 'name a handler version ({type, version}) or a time range ({from, to})' });
    }
    const from = filter.from === undefined ? undefined : new Date(filter.from);
    const to = filter.to === undefined ? undefined : new Date(filter.to);
    if (from && to && from >= to) problems.push({ path: 'to', message: 'must be after from' });
    if (problems.length > 0) throw ApiError.validation(problems);
    await this.portals.findById(id);
    return this.reverts.create(id, { type: filter.type, version: filter.version, from, to });
  }

  @Get('reverts/:revertId')
  @ApiOperation({ summary: 'A revert and its progress: records restored, skipped (changed since), unrestorable, failed' })
  async revertProgress(@Param('id') id: string, @Param('revertId') revertId: string) {
    await this.portals.findById(id);
    const revert = await this.reverts.get(id, revertId);
    if (!revert) throw new NotFoundError('Revert');
    return revert;
  }
}

/** The type and version of a release path, checked as a body's would be. */
function versionOf(type: string, version: string): [string, string] {
  const problems: FieldProblem[] = [];
  if (type.length === 0 || type.length > 63) problems.push({ path: 'type', message: 'must be a job type of 1 to 63 characters' });
  if (!/^[0-9A-Za-z.+_-]{1,64}$/.test(version)) problems.push({ path: 'version', message: 'must be a handler version (letters, digits, . + _ -; at most 64)' });
  if (problems.length > 0) throw ApiError.validation(problems);
  return [type, version];
}
