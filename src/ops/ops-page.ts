import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import type { FastifyInstance } from 'fastify';
import { requireAdminToken } from './admin-auth';

export const OPS_PATH = '/ops';

/** What the operator pages may load: their own origin's files and API, nothing from anywhere else. */
export const SAME_ORIGIN_ONLY =
  "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; font-src 'self'; connect-src 'self'; frame-ancestors 'none'; base-uri 'self'; form-action 'self'";

const PAGE = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex">
<title>Offload ops: failed jobs</title>
<link rel="stylesheet" href="/ops/ops.css">
<script defer src="/ops/ops.js"></script>
</head>
<body>
<header><h1>Failed jobs</h1><nav><a href="/ops/queues">Queues</a> · <a href="/docs">API</a></nav></header>
<form id="filter">
  <label>Failed in the last <select name="hours"><option value="1">hour</option><option value="24" selected>24 hours</option><option value="168">7 days</option><option value="720">30 days</option></select></label>
  <label>Type <input name="type" size="16"></label>
  <label>Error <input name="errorCode" size="16"></label>
  <label>Portal <input name="portalId" size="38"></label>
  <button type="submit">Show</button>
</form>
<p id="status" role="status"></p>
<h2>By type, error and portal <small id="since"></small></h2>
<table id="groups"><thead><tr><th>Type</th><th>Error</th><th>Portal</th><th>Jobs</th><th>Last failed</th><th></th></tr></thead><tbody></tbody></table>
<h2>Latest failures</h2>
<table id="jobs"><thead><tr><th>Job</th><th>Type</th><th>Portal</th><th>Error</th><th>Message</th><th>Attempts</th><th>Failed</th><th></th></tr></thead><tbody></tbody></table>
</body>
</html>
`;

const STYLE = `
body { font: 14px/1.4 system-ui, -apple-system, "Segoe UI", sans-serif; margin: 1.5rem; color: #1d232b; background: #f6f7f9; }
header { display: flex; align-items: baseline; gap: 2rem; }
h1 { font-size: 1.4rem; margin: 0 0 1rem; } h2 { font-size: 1.1rem; margin: 1.5rem 0 .5rem; }
form { display: flex; flex-wrap: wrap; gap: 1rem; align-items: end; }
table { border-collapse: collapse; width: 100%; background: #fff; }
th, td { text-align: left; padding: .35rem .6rem; border-bottom: 1px solid #e3e6ea; vertical-align: top; }
th { background: #eef0f3; font-weight: 600; }
td.message { max-width: 32rem; overflow-wrap: anywhere; color: #5a6470; }
code { font: 12px ui-monospace, "SFMono-Regular", Menlo, monospace; }
button { cursor: pointer; } button.confirm { background: #b3261e; color: #fff; border: 0; padding: .25rem .6rem; border-radius: 3px; }
#status { min-height: 1.2em; color: #5a6470; }
`;

/** The page's behaviour: the admin API, called with the browser's login (the page's Basic auth), rendered with textContent only. */
const SCRIPT = `
'use strict';
const $ = (selector) => document.querySelector(selector);
const form = $('#filter');

function filter() {
  const data = new FormData(form);
  const filter = { status: ['failed'], from: new Date(Date.now() - Number(data.get('hours')) * 3600e3).toISOString() };
  for (const name of ['type', 'errorCode', 'portalId']) if (String(data.get(name)).trim()) filter[name] = String(data.get(name)).trim();
  return filter;
}

async function api(method, path, body) {
  const response = await fetch(path, {
    method, credentials: 'same-origin',
    headers: body ? { 'content-type': 'application/json' } : {},
    body: body ? JSON.stringify(body) : undefined,
  });
  const answer = await response.json();
  if (!response.ok) throw new Error(answer.error ? answer.error.code + ': ' + answer.error.message : 'HTTP ' + response.status);
  return answer;
}

function cell(row, text, className) {
  const td = row.insertCell();
  td.textContent = text === undefined || text === null ? '' : String(text);
  if (className) td.className = className;
  return td;
}

/** A retry button: the first click counts (dry run), the second retries what was counted. */
function retryButton(row, target, label) {
  const button = document.createElement('button');
  button.textContent = label;
  button.dataset.action = 'retry';
  button.addEventListener('click', async () => {
    button.disabled = true;
    try {
      if (!button.classList.contains('confirm')) {
        const { matched } = await api('POST', '/v1/admin/jobs/retry', { ...target, dryRun: true });
        button.textContent = 'Retry ' + matched + ' job' + (matched === 1 ? '' : 's') + '?';
        button.classList.add('confirm');
      } else {
        const { matched, done } = await api('POST', '/v1/admin/jobs/retry', { ...target, actor: 'ops page', reason: 'retried from the ops page' });
        button.replaceWith(document.createTextNode('retried ' + done + ' of ' + matched));
        $('#status').textContent = 'Retried ' + done + ' job' + (done === 1 ? '' : 's') + '.';
      }
    } catch (error) {
      $('#status').textContent = 'Retry failed: ' + error.message;
    } finally {
      button.disabled = false;
    }
  });
  row.insertCell().append(button);
}

async function load() {
  const current = filter();
  const query = new URLSearchParams({ ...current, status: 'failed' });
  $('#status').textContent = 'Loading…';
  try {
    const [{ groups, from }, { jobs }] = await Promise.all([
      api('GET', '/v1/admin/jobs/failures?' + query),
      api('GET', '/v1/admin/jobs?' + query + '&limit=50'),
    ]);
    // Grouped since \`from\` (the last day unless the filter says): a group's retry covers that window, as its count does.
    $('#since').textContent = 'since ' + new Date(from).toLocaleString();
    const groupRows = $('#groups tbody');
    groupRows.replaceChildren();
    for (const group of groups) {
      const row = groupRows.insertRow();
      row.dataset.type = group.type;
      row.dataset.errorCode = group.errorCode;
      cell(row, group.type); cell(row, group.errorCode).className = 'code'; cell(row, group.portalId).className = 'code';
      cell(row, group.count); cell(row, new Date(group.lastFailedAt).toLocaleString());
      const errorCode = group.errorCode === 'unknown' ? undefined : group.errorCode;
      retryButton(row, { filter: { ...current, from, type: group.type, errorCode, portalId: group.portalId } }, 'Retry');
    }
    const jobRows = $('#jobs tbody');
    jobRows.replaceChildren();
    for (const job of jobs) {
      const row = jobRows.insertRow();
      row.dataset.jobId = job.id;
      cell(row, job.id).className = 'code'; cell(row, job.type); cell(row, job.portalId).className = 'code';
      cell(row, job.error && job.error.code); cell(row, job.error && job.error.message, 'message');
      cell(row, job.attempts + '/' + job.maxAttempts); cell(row, job.finishedAt && new Date(job.finishedAt).toLocaleString());
      retryButton(row, { ids: [job.id] }, 'Retry');
    }
    $('#status').textContent = groups.length ? '' : 'No failed jobs in this window.';
  } catch (error) {
    $('#status').textContent = 'Could not load failures: ' + error.message;
  }
}

form.addEventListener('submit', (event) => { event.preventDefault(); void load(); });
void load();
`;

/**
 * Offload's own operator page at /ops: failed jobs grouped by type, error and portal, the latest
 * ones with their messages, and a retry for each (counted first, then done through the audited
 * admin API). Everything it loads comes from this server; the admin token is asked for as a Basic
 * login, which the page's calls to the admin API then carry.
 */
export async function mountOpsPage(app: NestFastifyApplication, adminToken: string): Promise<void> {
  await app.register(
    async (scope: FastifyInstance) => {
      requireAdminToken(scope, adminToken, 'The ops page');
      scope.addHook('onSend', async (_request, reply, payload) => {
        void reply.header('content-security-policy', SAME_ORIGIN_ONLY).header('cache-control', 'no-store');
        return payload;
      });
      scope.get('/', async (_request, reply) => reply.type('text/html; charset=utf-8').send(PAGE));
      scope.get('/ops.js', async (_request, reply) => reply.type('text/javascript; charset=utf-8').send(SCRIPT));
      scope.get('/ops.css', async (_request, reply) => reply.type('text/css; charset=utf-8').send(STYLE));
    },
    { prefix: OPS_PATH },
  );
}
