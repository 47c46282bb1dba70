import { Injectable, Logger } from '@nestjs/common';
import { Type } from '@sinclair/typebox';
import { ApiError, FieldProblem } from '../common/api-error';
import { requestSchema } from '../common/request-schema';
import { isUuid } from '../portals/portals.service';
import { AdminAudit } from './admin-audit';
import { JobLifecycle } from './job-lifecycle';
import { JOB_STATUSES, JobRecord, JobStatus } from './job-record';
import { KeysetCursor } from './job.repository';
import { JobFilter, JobSearch } from './job-search';
import { JobsService } from './jobs.service';

export const MAX_PAGE = 500;
/**
 * How far back failures are grouped when the caller gives no `from`: grouping every failure kept
 * reads them all (2.3 s at 200,000 failures, npm run bench:scale), and an operator looks at what
 * fails now.
 */
const DEFAULT_FAILURE_WINDOW_MS = 24 * 60 * 60 * 1000;

/** Jobs one bulk action changes per statement: a filter that names a million goes through in steps this size. */
const BULK_CHUNK = 500;
const MAX_IDS = 1000;

const ERROR_CODE = '^[A-Za-z0-9_.:-]{1,100}$';
const filterFields = {
  status: Type.Optional(Type.Array(Type.Union(JOB_STATUSES.map((status) => Type.Literal(status))), { minItems: 1, uniqueItems: true })),
  type: Type.Optional(Type.String({ minLength: 1, maxLength: 63 })),
  portalId: Type.Optional(Type.String({ format: 'uuid' })),
  errorCode: Type.Optional(Type.String({ pattern: ERROR_CODE })),
  from: Type.Optional(Type.String({ format: 'date-time', description: 'Created at or after' })),
  to: Type.Optional(Type.String({ format: 'date-time', description: 'Created before' })),
};

export const bulkBody = requestSchema(
  Type.Object(
    {
      ids: Type.Optional(Type.Array(Type.String({ format: 'uuid' }), { minItems: 1, maxItems: MAX_IDS, uniqueItems: true })),
      filter: Type.Optional(Type.Object(filterFields, { additionalProperties: false })),
      dryRun: Type.Optional(Type.Boolean({ description: 'Count the jobs it would act on; change nothing' })),
      reason: Type.Optional(Type.String({ minLength: 1, maxLength: 500, description: 'Why: kept in the audit record' })),
      actor: Type.Optional(Type.String({ minLength: 1, maxLength: 200, description: 'Who: kept in the audit record' })),
    },
    { additionalProperties: false },
  ),
);
type BulkBody = ReturnType<typeof bulkBody.parse>;

/** What a bulk action acts on, and what it does to a chunk of job ids. */
interface BulkAction {
  name: 'retry' | 'cancel';
  eligible: JobStatus[];
  apply(ids: string[]): Promise<JobRecord[]>;
}

/** A filter from query parameters, each checked; GET /v1/admin/jobs and the failure summary read them. */
export function filterFromQuery(query: Record<string, string | undefined>): JobFilter {
  const problems: FieldProblem[] = [];
  const filter: JobFilter = {};
  if (query.status) {
    const statuses = query.status.split(',');
    const unknown = statuses.filter((status) => !JOB_STATUSES.includes(status as JobStatus));
    if (unknown.length) problems.push({ path: 'status', message: `must be among ${JOB_STATUSES.join(', ')} (comma-separated)` });
    else filter.status = statuses as JobStatus[];
  }
  if (query.type) filter.type = query.type;
  if (query.portalId) {
    if (isUuid(query.portalId)) filter.portalId = query.portalId;
    else problems.push({ path: 'portalId', message: 'must be a portal id (UUID)' });
  }
  if (query.errorCode) {
    if (new RegExp(ERROR_CODE).test(query.errorCode)) filter.errorCode = query.errorCode;
    else problems.push({ path: 'errorCode', message: 'must be an error code' });
  }
  for (const name of ['from', 'to'] as const) {
    const raw = query[name];
    if (!raw) continue;
    const at = new Date(raw);
    if (Number.isNaN(at.getTime())) problems.push({ path: name, message: 'must be an ISO 8601 date and time' });
    else filter[name] = at;
  }
  if (problems.length) throw ApiError.validation(problems);
  return filter;
}

export function encodeCursor(cursor: KeysetCursor): string {
  return Buffer.from(JSON.stringify([cursor.at, cursor.id])).toString('base64url');
}

export function decodeCursor(raw: string | undefined): KeysetCursor | undefined {
  if (!raw) return undefined;
  try {
    const [at, id] = JSON.parse(Buffer.from(raw, 'base64url').toString('utf8'));
    if (typeof at === 'string' && !Number.isNaN(Date.parse(at)) && typeof id === 'string' && isUuid(id)) return { at, id };
  } catch {
    // answered below
  }
  throw ApiError.validation([{ path: 'cursor', message: 'is not a cursor this API gave' }]);
}

/**
 * Jobs as an operator sees them: any portal's, listed by status, type, portal, error and time, and
 * retried or cancelled in bulk. A bulk action counts first when asked (`dryRun`); a real one acts
 * in chunks and is recorded in the audit (who, when, what, why).
 */
@Injectable()
export class AdminJobsService {
  private readonly logger = new Logger(AdminJobsService.name);
  private readonly actions: Record<'retry' | 'cancel', BulkAction>;

  constructor(
    private readonly search: JobSearch,
    private readonly jobs: JobsService,
    private readonly lifecycle: JobLifecycle,
    private readonly audit: AdminAudit,
  ) {
    this.actions = {
      retry: { name: 'retry', eligible: ['failed', 'cancelled'], apply: (ids) => this.jobs.retryMany(ids) },
      cancel: { name: 'cancel', eligible: ['queued', 'running', 'writing'], apply: (ids) => this.lifecycle.cancelMany(ids) },
    };
  }

  async list(filter: JobFilter, cursor: KeysetCursor | undefined, limit: number) {
    const page = await this.search.list(filter, cursor, limit);
    // As the public view, with what pauses it, and its portal.
    return { jobs: page.jobs.map((job) => ({ ...this.jobs.view(job), portalId: job.portalId })), ...(page.next ? { nextCursor: encodeCursor(page.next) } : {}) };
  }

  /** Failures grouped since `from`, the last day when it is not given: `from` says which. */
  async failures(filter: JobFilter, limit: number) {
    const from = filter.from ?? new Date(Date.now() - DEFAULT_FAILURE_WINDOW_MS);
    return { groups: await this.search.failures({ ...filter, from }, limit), from: from.toISOString() };
  }

  /** Retries or cancels the jobs a body names: `{matched}` on a dry run, else `{matched, done}`, audited. */
  async bulk(name: 'retry' | 'cancel', body: unknown): Promise<{ matched: number; done?: number; dryRun?: true }> {
    const request = bulkBody.parse(body);
    if ((request.ids === undefined) === (request.filter === undefined)) {
      throw ApiError.validation([{ path: 'ids', message: 'give either ids or filter' }]);
    }
    const action = this.actions[name];
    const filter = this.eligibleFilter(action, request);
    if (request.ids) {
      const ids = await this.search.matching(request.ids, filter);
      if (request.dryRun) return { matched: ids.length, dryRun: true };
      const done = ids.length ? (await action.apply(ids)).length : 0;
      return this.recorded(action, request, { ids: request.ids }, ids.length, done);
    }
    const matched = await this.search.count(filter);
    if (request.dryRun) return { matched, dryRun: true };
    let done = 0;
    let cursor: KeysetCursor | undefined;
    do {
      const page = await this.search.list(filter, cursor, BULK_CHUNK);
      if (page.jobs.length) done += (await action.apply(page.jobs.map((job) => job.id))).length;
      cursor = page.next;
    } while (cursor);
    return this.recorded(action, request, { filter: request.filter }, matched, done);
  }

  private async recorded(action: BulkAction, request: BulkBody, target: unknown, matched: number, done: number) {
    const actor = request.actor ?? 'admin';
    await this.audit.record({ actor, action: `jobs.${action.name}`, reason: request.reason, target, matched, done });
    this.logger.log({ event: `admin.jobs.${action.name}`, actor, matched, done }, `${actor} ${action.name === 'retry' ? 'retried' : 'cancelled'} ${done} of ${matched} jobs`);
    return { matched, done };
  }

  /** The request's filter held to the statuses the action applies to (all of those when it names none). */
  private eligibleFilter(action: BulkAction, request: BulkBody): JobFilter {
    const given = request.filter ?? {};
    const status = given.status ?? action.eligible;
    const refused = status.filter((s) => !action.eligible.includes(s));
    if (refused.length) throw ApiError.validation([{ path: 'filter.status', message: `${action.name} applies only to ${action.eligible.join(', ')} jobs` }]);
    return {
      status,
      type: given.type,
      portalId: given.portalId,
      errorCode: given.errorCode,
      from: given.from ? new Date(given.from) : undefined,
      to: given.to ? new Date(given.to) : undefined,
    };
  }
}
