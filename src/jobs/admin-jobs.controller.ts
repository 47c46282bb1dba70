import { Body, Controller, Get, HttpCode, Post, Query, UseGuards } from '@nestjs/common';
import { ApiBearerAuth, ApiBody, ApiOperation, ApiQuery, ApiTags } from '@nestjs/swagger';
import { ApiError } from '../common/api-error';
import { AdminGuard } from '../portals/auth.guards';
import { AdminAudit } from './admin-audit';
import { AdminJobsService, bulkBody, decodeCursor, filterFromQuery, MAX_PAGE } from './admin-jobs.service';

type Query = Record<string, string | undefined>;

function limitOf(raw: string | undefined, fallback: number): number {
  if (raw === undefined || raw === '') return fallback;
  if (!/^\d+$/.test(raw) || Number(raw) < 1 || Number(raw) > MAX_PAGE) {
    throw ApiError.validation([{ path: 'limit', message: `must be a whole number from 1 to ${MAX_PAGE}` }]);
  }
  return Number(raw);
}

const FILTER_QUERY = ['status', 'type', 'portalId', 'errorCode', 'from', 'to'] as const;
const FILTER_DESCRIPTIONS: Record<(typeof FILTER_QUERY)[number], string> = {
  status: 'queued, running, writing, succeeded, failed, cancelled; comma-separated for several',
  type: 'a job type',
  portalId: "a portal's id",
  errorCode: "the failed job's error code",
  from: 'created at or after (ISO 8601)',
  to: 'created before (ISO 8601)',
};
const FilterQuery = () => (target: object, key: string | symbol, descriptor: PropertyDescriptor) => {
  for (const name of FILTER_QUERY) ApiQuery({ name, required: false, description: FILTER_DESCRIPTIONS[name] })(target, key, descriptor);
};

@ApiTags('admin')
@ApiBearerAuth()
@UseGuards(AdminGuard)
@Controller('v1/admin')
export class AdminJobsController {
  constructor(
    private readonly jobs: AdminJobsService,
    private readonly audit: AdminAudit,
  ) {}

  @Get('jobs')
  @ApiOperation({ summary: "Any portal's jobs, newest first, in keyset pages (nextCursor continues)" })
  @FilterQuery()
  @ApiQuery({ name: 'cursor', required: false })
  @ApiQuery({ name: 'limit', required: false, description: `1..${MAX_PAGE}, 100 by default` })
  list(@Query() query: Query) {
    return this.jobs.list(filterFromQuery(query), decodeCursor(query.cursor), limitOf(query.limit, 100));
  }

  @Get('jobs/failures')
  @ApiOperation({ summary: 'Failed jobs grouped by type, error code and portal, the largest groups first' })
  @FilterQuery()
  failures(@Query() query: Query) {
    return this.jobs.failures(filterFromQuery(query), limitOf(query.limit, 100));
  }

  @Post('jobs/retry')
  @HttpCode(200)
  @ApiOperation({ summary: 'Run failed or cancelled jobs again, by ids or filter; dryRun counts them; audited' })
  @ApiBody({ schema: bulkBody.openApi })
  retry(@Body() body: unknown) {
    return this.jobs.bulk('retry', body);
  }

  @Post('jobs/cancel')
  @HttpCode(200)
  @ApiOperation({ summary: 'Cancel queued, running or writing jobs, by ids or filter; dryRun counts them; audited' })
  @ApiBody({ schema: bulkBody.openApi })
  cancel(@Body() body: unknown) {
    return this.jobs.bulk('cancel', body);
  }

  @Get('actions')
  @ApiOperation({ summary: "The audit of operators' bulk actions, newest first" })
  @ApiQuery({ name: 'limit', required: false })
  async actions(@Query() query: Query) {
    return { actions: await this.audit.latest(limitOf(query.limit, 100)) };
  }
}
