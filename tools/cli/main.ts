import { parseArgs } from 'node:util';
import { AdminClient } from './admin-client';
import { Progress } from './progress';

const USAGE = `offload: operate an Offload deployment through its admin API

  offload [--url URL] [--token TOKEN] [--json] <command>

  URL and TOKEN default to OFFLOAD_URL (http://127.0.0.1:3000) and OFFLOAD_ADMIN_TOKEN (or ADMIN_TOKEN).

Portals and keys
  portals show <portalId>
  portals create --hubspot-portal-id N --name NAME [--token-env VAR]   (the HubSpot token is read from $VAR)
  portals pause <portalId> [--types a,b] [--reason TEXT]    all its work, or only these job types'
  portals resume <portalId> [--types a,b] [--reason TEXT]   all of it, or only these types (the rest stays paused)
  portals budget <portalId>                 the portal's HubSpot budget use
  keys list <portalId> | keys create <portalId> | keys revoke <portalId> <keyId>

Jobs (filters: --status s[,s] --type T --portal ID --error CODE --from ISO --to ISO)
  jobs list [filters] [--limit N]
  jobs failures [filters]                   failed jobs by type, error and portal (the last day unless --from)
  jobs retry  (--ids a,b | filters) [--dry-run] [--reason TEXT] [--yes]
  jobs cancel (--ids a,b | filters) [--dry-run] [--reason TEXT] [--yes]

Other
  outbox                                    events waiting for Kafka
  actions [--limit N]                       the audit of bulk actions
`;

/** Ids acted on per call of a bulk action: each call is one audited step the progress bar counts. */
const STEP = 500;

const OPTIONS = {
  url: { type: 'string' },
  token: { type: 'string' },
  json: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
  status: { type: 'string' },
  type: { type: 'string' },
  portal: { type: 'string' },
  error: { type: 'string' },
  from: { type: 'string' },
  to: { type: 'string' },
  limit: { type: 'string' },
  ids: { type: 'string' },
  'dry-run': { type: 'boolean' },
  reason: { type: 'string' },
  yes: { type: 'boolean', short: 'y' },
  types: { type: 'string' },
  name: { type: 'string' },
  'hubspot-portal-id': { type: 'string' },
  'token-env': { type: 'string' },
} as const;

type Values = ReturnType<typeof parseArgs<{ options: typeof OPTIONS; allowPositionals: true }>>['values'];

class UsageError extends Error {}

function filterOf(values: Values): Record<string, unknown> {
  const filter: Record<string, unknown> = {};
  if (values.status) filter.status = values.status.split(',');
  if (values.type) filter.type = values.type;
  if (values.portal) filter.portalId = values.portal;
  if (values.error) filter.errorCode = values.error;
  if (values.from) filter.from = values.from;
  if (values.to) filter.to = values.to;
  return filter;
}

function query(filter: Record<string, unknown>, extra: Record<string, string | undefined> = {}): string {
  const params = new URLSearchParams();
  for (const [name, value] of Object.entries({ ...filter, ...extra })) {
    if (value !== undefined) params.set(name, Array.isArray(value) ? value.join(',') : String(value));
  }
  const text = params.toString();
  return text ? `?${text}` : '';
}

/** Who is acting, for the audit. */
function actor(): string {
  return `cli:${process.env.USER ?? process.env.USERNAME ?? 'unknown'}`;
}

/** What of a portal's work is paused, as the admin API answers a pause or a resume. */
function pauseState(portal: { status: string; pausedReason?: string; pausedTypes?: Array<{ type: string; pausedReason: string }> }): string {
  if (portal.status === 'paused') return `all work paused (${portal.pausedReason})`;
  const types = portal.pausedTypes ?? [];
  if (types.length === 0) return 'running';
  return `paused for ${types.map((pause) => `${pause.type} (${pause.pausedReason})`).join(', ')}`;
}

function table(rows: Array<Record<string, unknown>>, columns: string[]): string {
  const cells = rows.map((row) => columns.map((column) => String(row[column] ?? '')));
  const widths = columns.map((column, index) => Math.max(column.length, ...cells.map((line) => line[index].length)));
  const line = (values: string[]) => values.map((value, index) => value.padEnd(widths[index])).join('  ').trimEnd();
  return [line(columns), ...cells.map(line)].join('\n');
}

async function bulk(client: AdminClient, action: 'retry' | 'cancel', values: Values, print: (text: string, json: unknown) => void): Promise<void> {
  const path = `/v1/admin/jobs/${action}`;
  const reason = values.reason;
  if (values.ids) {
    const ids = values.ids.split(',').map((id) => id.trim()).filter(Boolean);
    const answer = await client.post(path, { ids, dryRun: values['dry-run'] ?? false, reason, actor: actor() });
    return print(values['dry-run'] ? `${answer.matched} jobs would be ${action === 'retry' ? 'retried' : 'cancelled'}` : `${action}: ${answer.done} of ${answer.matched} jobs`, answer);
  }
  const filter = filterOf(values);
  if (Object.keys(filter).length === 0 && !values.yes) throw new UsageError(`jobs ${action} needs --ids or a filter (or --yes to act on every eligible job)`);
  const { matched } = await client.post(path, { filter, dryRun: true });
  if (values['dry-run']) return print(`${matched} jobs would be ${action === 'retry' ? 'retried' : 'cancelled'}`, { matched, dryRun: true });
  // Through the list, a page at a time: each page is one audited call, and the bar moves with it.
  const progress = new Progress(action === 'retry' ? 'Retrying' : 'Cancelling', matched);
  const eligible = filter.status ?? (action === 'retry' ? ['failed'] : ['queued', 'running', 'writing']);
  let done = 0;
  let seen = 0;
  let cursor: string | undefined;
  progress.update(0);
  do {
    const page = await client.get(`/v1/admin/jobs${query({ ...filter, status: eligible }, { limit: String(STEP), cursor })}`);
    const ids = page.jobs.map((job: { id: string }) => job.id);
    if (ids.length > 0) done += (await client.post(path, { ids, reason, actor: actor() })).done;
    seen += ids.length;
    progress.update(Math.min(seen, matched));
    cursor = page.nextCursor;
  } while (cursor);
  progress.finish();
  print(`${action}: ${done} of ${matched} jobs`, { matched, done });
}

export async function run(argv: string[], env: NodeJS.ProcessEnv = process.env): Promise<number> {
  const { values, positionals } = parseArgs({ args: argv, options: OPTIONS, allowPositionals: true, strict: true });
  const [group, command, ...rest] = positionals;
  if (values.help || !group) {
    process.stdout.write(USAGE);
    return values.help ? 0 : 2;
  }
  const token = values.token ?? env.OFFLOAD_ADMIN_TOKEN ?? env.ADMIN_TOKEN;
  if (!token) throw new UsageError('No admin token: pass --token or set OFFLOAD_ADMIN_TOKEN');
  const client = new AdminClient(values.url ?? env.OFFLOAD_URL ?? 'http://127.0.0.1:3000', token);
  const print = (text: string, json: unknown) => process.stdout.write(`${values.json ? JSON.stringify(json, null, 2) : text}\n`);
  const need = (value: string | undefined, what: string): string => {
    if (!value) throw new UsageError(`missing ${what}`);
    return value;
  };

  switch (`${group} ${command ?? ''}`.trim()) {
    case 'portals show': {
      const portal = await client.get(`/v1/admin/portals/${need(rest[0], '<portalId>')}`);
      return print(JSON.stringify(portal, null, 2), portal), 0;
    }
    case 'portals create': {
      const tokenEnv = values['token-env'];
      const body = {
        hubspotPortalId: Number(need(values['hubspot-portal-id'], '--hubspot-portal-id')),
        name: need(values.name, '--name'),
        ...(tokenEnv ? { hubspotAccessToken: need(env[tokenEnv], `$${tokenEnv}`) } : {}),
      };
      const created = await client.post('/v1/admin/portals', body);
      return print(`portal ${created.id} (HubSpot ${created.hubspotPortalId}); its API key, shown once: ${created.apiKey}`, created), 0;
    }
    case 'portals pause':
    case 'portals resume': {
      const types = values.types?.split(',').map((type) => type.trim()).filter(Boolean);
      const body = { ...(values.reason ? { reason: values.reason } : {}), ...(types ? { types } : {}), actor: actor() };
      const answer = await client.post(`/v1/admin/portals/${need(rest[0], '<portalId>')}/${command}`, body);
      return print(`portal ${rest[0]}: ${pauseState(answer)}`, answer), 0;
    }
    case 'portals budget': {
      const use = await client.get(`/v1/admin/portals/${need(rest[0], '<portalId>')}/budget`);
      const lines = [
        `window: ${use.window.used}/${use.effective.perWindow} requests in the last ${use.window.ms / 1000} s (stated limit ${use.limits.requestsPer10s})`,
        `today (${use.day.key}): ${use.day.used}${use.limits.daily ? `/${use.limits.daily}` : ''}${use.day.exhausted ? ', spent' : ''}`,
        ...(use.pausedUntil ? [`paused by HubSpot (429) until ${use.pausedUntil}`] : []),
      ];
      return print(lines.join('\n'), use), 0;
    }
    case 'keys list': {
      const keys = await client.get(`/v1/admin/portals/${need(rest[0], '<portalId>')}/api-keys`);
      return print(table(keys, ['id', 'prefix', 'createdAt']), keys), 0;
    }
    case 'keys create': {
      const key = await client.post(`/v1/admin/portals/${need(rest[0], '<portalId>')}/api-keys`);
      return print(`key ${key.id}, shown once: ${key.apiKey}`, key), 0;
    }
    case 'keys revoke': {
      await client.call('DELETE', `/v1/admin/portals/${need(rest[0], '<portalId>')}/api-keys/${need(rest[1], '<keyId>')}`);
      return print(`key ${rest[1]} revoked`, { revoked: rest[1] }), 0;
    }
    case 'jobs list': {
      const page = await client.get(`/v1/admin/jobs${query(filterOf(values), { limit: values.limit })}`);
      const rows = page.jobs.map((job: any) => ({ ...job, error: job.error?.code }));
      return print(table(rows, ['id', 'type', 'status', 'portalId', 'attempts', 'error', 'createdAt']), page), 0;
    }
    case 'jobs failures': {
      const { groups, from } = await client.get(`/v1/admin/jobs/failures${query(filterOf(values))}`);
      return print(`Failed since ${from} (--from to look further back)\n${table(groups, ['type', 'errorCode', 'portalId', 'count', 'lastFailedAt'])}`, groups), 0;
    }
    case 'jobs retry':
    case 'jobs cancel':
      await bulk(client, command as 'retry' | 'cancel', values, print);
      return 0;
    case 'outbox': {
      const backlog = await client.get('/v1/admin/outbox');
      return print(`${backlog.unpublished} events wait for Kafka (oldest ${Math.round(backlog.oldestUnpublishedSeconds)} s); ${backlog.publishedKept} published kept`, backlog), 0;
    }
    case 'actions': {
      const { actions } = await client.get(`/v1/admin/actions${query({}, { limit: values.limit })}`);
      return print(table(actions, ['at', 'actor', 'action', 'matched', 'done', 'reason']), actions), 0;
    }
    default:
      throw new UsageError(`unknown command "${positionals.join(' ')}"`);
  }
}

/** The process: runs the command line and exits with its code (2 for a usage error, 1 for a failed call). */
export function main(): void {
  run(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (error: Error) => {
      process.stderr.write(`offload: ${error.message}\n`);
      if (error instanceof UsageError || (error as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')) {
        process.stderr.write('Run offload --help for the commands.\n');
        process.exit(2);
      }
      process.exit(1);
    },
  );
}

if (require.main === module) main();
