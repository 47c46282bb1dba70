import { Body, Controller, Get, HttpCode, Param, Post, Query, Res, UseGuards } from '@nestjs/common';
import { ApiBearerAuth, ApiBody, ApiOperation, ApiQuery, ApiResponse, ApiTags } from '@nestjs/swagger';
import type { FastifyReply } from 'fastify';
import { ApiError } from '../common/api-error';
import { toApiError } from '../common/error-mapping';
import { CurrentPortal, PortalKeyGuard } from '../portals/auth.guards';
import type { AuthenticatedPortal } from '../portals/portals.service';
import { batchBody, enqueueBody } from './job-request.schemas';
import { JobsService, MAX_WAIT_SECONDS } from './jobs.service';

function parseWait(raw: string | undefined): number {
  if (raw === undefined || raw === '') return 0;
  if (!/^\d+$/.test(raw) || Number(raw) > MAX_WAIT_SECONDS) {
    throw ApiError.validation([{ path: 'wait', message: `must be a whole number of seconds from 0 to ${MAX_WAIT_SECONDS}` }]);
  }
  return Number(raw);
}

@ApiTags('jobs')
@ApiBearerAuth()
@UseGuards(PortalKeyGuard)
@Controller('v1/jobs')
export class JobsController {
  constructor(private readonly jobs: JobsService) {}

  @Post()
  @ApiOperation({ summary: 'Enqueue a job (idempotent: the same key and request answers the same job)' })
  @ApiBody({ schema: enqueueBody.openApi })
  @ApiResponse({ status: 202, description: 'A new job was queued' })
  @ApiResponse({ status: 200, description: 'The same request was made before: its job, no new work' })
  @ApiResponse({ status: 409, description: 'idempotency_conflict: the key belongs to a different request' })
  async enqueue(
    @CurrentPortal() portal: AuthenticatedPortal,
    @Body() body: unknown,
    @Res({ passthrough: true }) reply: FastifyReply,
  ) {
    const { status, job } = await this.jobs.enqueue(portal, body);
    reply.status(status);
    return job;
  }

  @Post('batch')
  @HttpCode(200)
  @ApiOperation({ summary: 'Enqueue up to 100 jobs; each result is what the single call would have answered' })
  @ApiBody({ schema: batchBody.openApi })
  async enqueueBatch(@CurrentPortal() portal: AuthenticatedPortal, @Body() body: unknown) {
    const { jobs } = batchBody.parse(body);
    const results = await this.jobs.enqueueMany(portal, jobs);
    return {
      results: results.map((result) => {
        if (!('error' in result)) return result;
        const answer = toApiError(result.error);
        return { status: answer.status, ...answer.toBody() };
      }),
    };
  }

  @Get()
  @ApiOperation({ summary: 'Find the job of an idempotency key' })
  @ApiQuery({ name: 'idempotencyKey', required: true })
  getByKey(@CurrentPortal() portal: AuthenticatedPortal, @Query('idempotencyKey') idempotencyKey?: string) {
    if (typeof idempotencyKey !== 'string' || idempotencyKey === '') {
      throw ApiError.validation([{ path: 'idempotencyKey', message: 'is required' }]);
    }
    return this.jobs.getByKey(portal, idempotencyKey);
  }

  @Get(':id')
  @ApiOperation({ summary: "A job's status and outputs; ?wait=N long-polls up to N seconds for it to end" })
  @ApiQuery({ name: 'wait', required: false, description: `0..${MAX_WAIT_SECONDS} seconds` })
  get(@CurrentPortal() portal: AuthenticatedPortal, @Param('id') id: string, @Query('wait') wait?: string) {
    return this.jobs.get(portal, id, parseWait(wait));
  }

  @Post(':id/cancel')
  @HttpCode(200)
  @ApiOperation({ summary: 'Cancel a queued or running job (409 once it has ended)' })
  cancel(@CurrentPortal() portal: AuthenticatedPortal, @Param('id') id: string) {
    return this.jobs.cancel(portal, id);
  }

  @Post(':id/retry')
  @HttpCode(202)
  @ApiOperation({ summary: 'Run a failed or cancelled job again (409 otherwise)' })
  retry(@CurrentPortal() portal: AuthenticatedPortal, @Param('id') id: string) {
    return this.jobs.retry(portal, id);
  }
}
