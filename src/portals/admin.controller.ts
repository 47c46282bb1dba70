import { Body, Controller, Delete, Get, HttpCode, Param, Patch, Post, Put, Query, UseGuards } from '@nestjs/common';
import { ApiBearerAuth, ApiBody, ApiOperation, ApiQuery, ApiTags } from '@nestjs/swagger';
import { Type } from '@sinclair/typebox';
import { ApiError } from '../common/api-error';
import { hubspotAccountId } from '../common/hubspot-id-schemas';
import { JobRepository } from '../jobs/job.repository';
import { requestSchema } from '../common/request-schema';
import { HandlerRegistry } from '../registry/handler-registry';
import { AdminGuard } from './auth.guards';
import { Portal } from './portal.entity';
import { Pause, PortalPauses } from './portal-pauses.service';
import { PortalSettingsService } from './portal-settings.service';
import { PortalsService, schedulingOf } from './portals.service';

const propertyMappingsBody = requestSchema(
  Type.Record(
    Type.String({ pattern: '^[A-Za-z0-9_-]{1,64}$' }),
    Type.Record(
      Type.String({ pattern: '^[a-z][a-z0-9_]{0,99}$' }),
      Type.Union([Type.String({ minLength: 1, maxLength: 100, pattern: '^[A-Za-z0-9_]+$' }), Type.Null()]),
      { additionalProperties: false },
    ),
    {
      additionalProperties: false,
      description:
        'Where job outputs are written back, by CRM object type (contacts, CONTACT, 0-1, ...): output name -> HubSpot ' +
        'property name, or null to leave the output out. Outputs not named go to the property of the same name.',
    },
  ),
);

const accessToken = Type.String({ minLength: 1, maxLength: 4096, description: 'Private app token; stored encrypted, never returned' });
const oauthTokens = Type.Object(
  {
    refreshToken: Type.String({ minLength: 1, maxLength: 4096 }),
    accessToken: Type.Optional(Type.String({ minLength: 1, maxLength: 4096 })),
    expiresIn: Type.Optional(Type.Integer({ minimum: 1, maximum: 31_536_000, description: 'Seconds the access token has left' })),
  },
  {
    additionalProperties: false,
    description:
      "An OAuth install's tokens, stored encrypted, never returned. Offload renews the access token before it expires " +
      '(HUBSPOT_CLIENT_ID and HUBSPOT_CLIENT_SECRET must be set); with only the refresh token, it fetches one at first use.',
  },
);
const rateLimit = Type.Object(
  {
    requestsPer10s: Type.Integer({
      minimum: 1,
      maximum: 100_000,
      description: "The portal's HubSpot API budget per rolling 10 s (100 when unset: Free/Starter private apps)",
    }),
    daily: Type.Optional(Type.Integer({ minimum: 1, maximum: 1_000_000_000, description: "The HubSpot account's daily API limit" })),
  },
  { additionalProperties: false },
);
const name = Type.String({ minLength: 1, maxLength: 200 });
const scheduling = Type.Object(
  {
    weight: Type.Optional(
      Type.Integer({ minimum: 1, maximum: 1_000, description: "The portal's share of the workers against other portals with waiting jobs (1 when unset)" }),
    ),
    maxConcurrency: Type.Optional(
      Type.Union([Type.Integer({ minimum: 1, maximum: 100_000 }), Type.Null()], {
        description: 'Runs of one job type at once for this portal, across every worker; null (the default) for no limit but the fair share',
      }),
    ),
  },
  { additionalProperties: false, description: "The portal's share of each job type's workers when several portals have jobs waiting" },
);

const createPortalBody = requestSchema(
  Type.Object(
    {
      hubspotPortalId: hubspotAccountId("HubSpot's account id"),
      name,
      hubspotAccessToken: Type.Optional(accessToken),
      hubspotOAuth: Type.Optional(oauthTokens),
      rateLimit: Type.Optional(rateLimit),
      scheduling: Type.Optional(scheduling),
    },
    { additionalProperties: false },
  ),
);

const changePortalBody = requestSchema(
  Type.Object(
    {
      name: Type.Optional(name),
      hubspotAccessToken: Type.Optional(Type.Union([accessToken, Type.Null()])),
      hubspotOAuth: Type.Optional(oauthTokens),
      rateLimit: Type.Optional(Type.Union([rateLimit, Type.Null()], { description: 'null: back to the Free/Starter default' })),
      scheduling: Type.Optional(scheduling),
    },
    { additionalProperties: false, minProperties: 1 },
  ),
);

const waitingQuery = requestSchema(Type.Object({ limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1_000 })) }, { additionalProperties: false }));
const jobTypes = Type.Array(Type.String({ minLength: 1, maxLength: 100 }), {
  minItems: 1,
  maxItems: 100,
  uniqueItems: true,
  description: 'Only the work of these job types (registered handler types); without it, all of the portal\'s work',
});
const actor = Type.String({ minLength: 1, maxLength: 200, description: 'Who: kept in the audit record' });
const pauseBody = requestSchema(
  Type.Object(
    {
      reason: Type.Optional(Type.String({ minLength: 1, maxLength: 500, description: 'Shown with the pause while it lasts, and kept in the audit record' })),
      types: Type.Optional(jobTypes),
      actor: Type.Optional(actor),
    },
    { additionalProperties: false },
  ),
);
const resumeBody = requestSchema(
  Type.Object(
    {
      reason: Type.Optional(Type.String({ minLength: 1, maxLength: 500, description: 'Why: kept in the audit record' })),
      types: Type.Optional(jobTypes),
      actor: Type.Optional(actor),
    },
    { additionalProperties: false },
  ),
);

const secretBody = requestSchema(
  Type.Object({ value: Type.String({ minLength: 1, maxLength: 4096, description: 'Stored encrypted, never returned' }) }, { additionalProperties: false }),
);

function oneCredential(body: { hubspotAccessToken?: unknown; hubspotOAuth?: unknown }): void {
  if (body.hubspotAccessToken !== undefined && body.hubspotOAuth !== undefined) {
    throw ApiError.validation([{ path: 'hubspotOAuth', message: 'give either hubspotAccessToken or hubspotOAuth, not both' }]);
  }
}

function portalView(portal: Portal, typePauses: Record<string, Pause>) {
  return {
    id: portal.id,
    hubspotPortalId: Number(portal.hubspotPortalId),
    name: portal.name,
    hasHubspotAccessToken: portal.hubspotAccessTokenEnc !== null || portal.hubspotRefreshTokenEnc !== null,
    hubspotConnection: portal.hubspotRefreshTokenEnc ? 'oauth' : portal.hubspotAccessTokenEnc ? 'private_app' : null,
    rateLimit: portal.rateLimitPer10s
      ? { requestsPer10s: portal.rateLimitPer10s, ...(portal.rateLimitDaily ? { daily: portal.rateLimitDaily } : {}) }
      : null,
    propertyMappings: portal.propertyMappings,
    scheduling: schedulingOf(portal),
    status: portal.pausedAt ? 'paused' : 'active',
    ...(portal.pausedAt ? { pausedAt: portal.pausedAt, pausedReason: portal.pausedReason } : {}),
    pausedTypes: Object.entries(typePauses)
      .map(([type, pause]) => ({ type, pausedAt: pause.since, pausedReason: pause.reason }))
      .sort((a, b) => a.type.localeCompare(b.type)),
    createdAt: portal.createdAt,
  };
}

@ApiTags('admin')
@ApiBearerAuth()
@UseGuards(AdminGuard)
@Controller('v1/admin/portals')
export class AdminController {
  constructor(
    private readonly portals: PortalsService,
    private readonly settings: PortalSettingsService,
    private readonly jobs: JobRepository,
    private readonly pauses: PortalPauses,
    private readonly registry: HandlerRegistry,
  ) {}

  @Post()
  @ApiOperation({ summary: 'Register a portal; answers its first API key, shown only this once' })
  @ApiBody({ schema: createPortalBody.openApi })
  async create(@Body() body: unknown) {
    const input = createPortalBody.parse(body);
    oneCredential(input);
    const { portal, apiKey } = await this.portals.create(input);
    return { ...portalView(portal, {}), apiKey };
  }

  @Get('waiting')
  @ApiOperation({ summary: 'Jobs waiting to run, by portal and job type, the longest waiting first' })
  @ApiQuery({ name: 'limit', required: false, description: 'At most this many portal and type pairs (1 to 1000, 100 by default)' })
  async waiting(@Query('limit') limit?: string) {
    const { limit: count } = waitingQuery.parse({ limit: limit === undefined ? undefined : Number(limit) });
    return { waiting: await this.jobs.waitingByPortal(count ?? 100, 'oldest') };
  }

  @Get(':id')
  @ApiOperation({ summary: 'A portal (credentials are never returned)' })
  async get(@Param('id') id: string) {
    return this.view(id);
  }

  @Patch(':id')
  @ApiOperation({ summary: "Change a portal's name, HubSpot credentials, rate limit or scheduling; every process picks it up at once" })
  @ApiBody({ schema: changePortalBody.openApi })
  async change(@Param('id') id: string, @Body() body: unknown) {
    const change = changePortalBody.parse(body);
    oneCredential(change);
    const portal = await this.portals.update(id, change);
    return portalView(portal, await this.pauses.typePauses(portal.id));
  }

  @Post(':id/pause')
  @HttpCode(200)
  @ApiOperation({
    summary: "Pause the portal's work, or that of some job types: its jobs wait in the queue and its HubSpot writes are held until it resumes; audited",
    description:
      'Each pause keeps its first reason. Jobs are still accepted; they run once their work resumes, and a wait is never counted ' +
      'as an attempt. A run already going finishes, and its write waits. 400 unknown_job_type for a type no handler has.',
  })
  @ApiBody({ schema: pauseBody.openApi, required: false })
  async pause(@Param('id') id: string, @Body() body: unknown) {
    const { reason, types, actor } = pauseBody.parse(body ?? {});
    this.registeredTypes(types);
    await this.portals.findById(id);
    await this.pauses.pause(id, { actor: actor ?? 'admin', reason: reason ?? 'paused by an admin', types });
    return this.view(id);
  }

  @Post(':id/resume')
  @HttpCode(200)
  @ApiOperation({
    summary: "Resume the portal's work (all of it, or that of some job types): its waiting jobs run and its held writes are sent; audited",
    description:
      'Without types, every pause of the portal ends. With types, their pauses end; a pause of the whole portal becomes a ' +
      'pause of each other job type, so only the types named run again.',
  })
  @ApiBody({ schema: resumeBody.openApi, required: false })
  async resume(@Param('id') id: string, @Body() body: unknown) {
    const { reason, types, actor } = resumeBody.parse(body ?? {});
    this.registeredTypes(types);
    await this.portals.findById(id);
    await this.pauses.resume(id, { actor: actor ?? 'admin', reason, types });
    return this.view(id);
  }

  /** The portal as the admin API shows it, its pauses read from PostgreSQL. */
  private async view(id: string) {
    const portal = await this.portals.findById(id);
    return portalView(portal, await this.pauses.typePauses(portal.id));
  }

  /** Refuses job types no handler is registered for, naming the first. */
  private registeredTypes(types: string[] | undefined): void {
    const index = types?.findIndex((type) => this.registry.get(type) === undefined) ?? -1;
    if (index < 0) return;
    throw new ApiError(400, 'unknown_job_type', `No handler is registered for job type "${types![index]}"`, [
      { path: `types[${index}]`, message: 'is not a registered job type' },
    ]);
  }

  @Get(':id/handlers/:type/config')
  @ApiOperation({ summary: "The portal's settings for a handler (the handler's default when it set none)" })
  async handlerConfig(@Param('id') id: string, @Param('type') type: string) {
    return this.settings.storedHandlerConfig(id, type);
  }

  @Put(':id/handlers/:type/config')
  @ApiOperation({ summary: "Replace the portal's settings for a handler; checked against the handler's config schema" })
  @ApiBody({ schema: { type: 'object', description: "The handler's settings: see its configSchema in GET /v1/handlers" } })
  async setHandlerConfig(@Param('id') id: string, @Param('type') type: string, @Body() body: unknown) {
    if (body === null || typeof body !== 'object' || Array.isArray(body)) {
      throw ApiError.validation([{ path: '', message: 'must be a JSON object' }]);
    }
    await this.settings.setHandlerConfig(id, type, body);
    return this.settings.storedHandlerConfig(id, type);
  }

  @Delete(':id/handlers/:type/config')
  @HttpCode(204)
  @ApiOperation({ summary: "Forget the portal's settings for a handler: it goes back to the default" })
  async resetHandlerConfig(@Param('id') id: string, @Param('type') type: string): Promise<void> {
    await this.settings.resetHandlerConfig(id, type);
  }

  @Get(':id/secrets')
  @ApiOperation({ summary: "The names of the portal's secrets (values are never returned)" })
  listSecrets(@Param('id') id: string) {
    return this.settings.listSecrets(id);
  }

  @Put(':id/secrets/:name')
  @HttpCode(204)
  @ApiOperation({ summary: 'Set a secret its handlers read (a provider API key, say); stored encrypted' })
  @ApiBody({ schema: secretBody.openApi })
  async setSecret(@Param('id') id: string, @Param('name') secretName: string, @Body() body: unknown): Promise<void> {
    await this.settings.setSecret(id, secretName, secretBody.parse(body).value);
  }

  @Delete(':id/secrets/:name')
  @HttpCode(204)
  @ApiOperation({ summary: 'Delete a secret' })
  async deleteSecret(@Param('id') id: string, @Param('name') secretName: string): Promise<void> {
    await this.settings.deleteSecret(id, secretName);
  }

  @Put(':id/property-mappings')
  @ApiOperation({ summary: "Replace where the portal's job outputs are written back" })
  @ApiBody({ schema: propertyMappingsBody.openApi })
  async setPropertyMappings(@Param('id') id: string, @Body() body: unknown) {
    const portal = await this.portals.setPropertyMappings(id, propertyMappingsBody.parse(body));
    return portalView(portal, await this.pauses.typePauses(portal.id));
  }

  @Get(':id/api-keys')
  @ApiOperation({ summary: "The portal's live API keys (prefixes only)" })
  async listKeys(@Param('id') id: string) {
    const keys = await this.portals.listKeys(id);
    return keys.map((key) => ({ id: key.id, prefix: key.keyPrefix, createdAt: key.createdAt }));
  }

  @Post(':id/api-keys')
  @ApiOperation({ summary: 'Issue another API key (rotation: older keys keep working until deleted)' })
  createKey(@Param('id') id: string) {
    return this.portals.createKey(id);
  }

  @Delete(':id/api-keys/:keyId')
  @HttpCode(204)
  @ApiOperation({ summary: 'Revoke an API key' })
  async revokeKey(@Param('id') id: string, @Param('keyId') keyId: string): Promise<void> {
    await this.portals.revokeKey(id, keyId);
  }
}
