import { checkSources, CheckOptions } from './check';
import { Finding } from './finding';

async function check(lines: string[], options: CheckOptions = {}, path = 'action.js'): Promise<Finding[]> {
  const { findings } = await checkSources([{ path, language: 'javascript', text: lines.join('\n') }], options);
  return findings;
}

/** `line severity rule` of each finding, in order. */
async function summary(lines: string[], options: CheckOptions = {}, path?: string): Promise<string[]> {
  return (await check(lines, options, path)).map((f) => `${f.line} ${f.severity} ${f.rule}`);
}

describe('JavaScript actions', () => {
  describe('callback-style handlers', () => {
    it('reports the handler and every use of its callback', async () => {
      await expect(
        summary([
          'exports.main = (event, callback) => {',
          '  if (!event.inputFields) return callback({ outputFields: {} });',
          '  callback({ outputFields: { ok: true } });',
          '};',
        ]),
      ).resolves.toEqual(['1 error callback-handler', '2 error callback-handler', '3 error callback-handler']);
    });

    it('finds main behind module.exports, a named function and a callback passed on', async () => {
      const findings = await check([
        'function main(event, done) {',
        '  finish(event, done);',
        '}',
        'function finish(event, callback) { callback({ outputFields: {} }); }',
        'module.exports = { main };',
      ]);
      expect(findings.map((f) => [f.line, f.rule])).toEqual([
        [2, 'callback-handler'],
        [5, 'callback-handler'],
      ]);
      expect(findings[0].message).toContain('`done` is passed on');
      expect(findings[1].fix).toContain('return `{ outputFields');
    });

    it('accepts an async main that returns its outputs, and callbacks of other functions', async () => {
      await expect(
        summary([
          'const each = (items, callback) => items.forEach(callback);',
          'exports.main = async (event) => {',
          '  each([1], (n) => n);',
          '  return { outputFields: { ok: true } };',
          '};',
        ]),
      ).resolves.toEqual([]);
    });
  });

  describe('libraries', () => {
    it('reports request as gone in Node.js 24, packages HubSpot does not bundle, and local files', async () => {
      const findings = await check([
        "const request = require('request');",
        "import fetch from 'node-fetch';",
        "const helpers = require('./helpers');",
        "const left = require('left-pad');",
      ]);
      expect(findings.map((f) => `${f.line}:${f.column} ${f.rule}`)).toEqual([
        '1:25 unavailable-library',
        '2:19 unavailable-library',
        '3:25 unavailable-library',
        '4:22 unavailable-library',
      ]);
      expect(findings[0].message).toContain('not with Node.js 24');
      expect(findings[1].fix).toContain('global fetch');
      expect(findings[2].message).toContain('single file');
      expect(findings[3].fix).toContain('axios');
    });

    it('accepts the bundled libraries, their subpaths and Node.js built-ins', async () => {
      await expect(
        summary([
          "const hubspot = require('@hubspot/api-client');",
          "const axios = require('axios');",
          "const fp = require('lodash/fp');",
          "const crypto = require('node:crypto');",
          "const https = require('https');",
          "const { readFile } = require('fs/promises');",
          'exports.main = async () => ({ outputFields: {} });',
        ]),
      ).resolves.toEqual([]);
    });
  });

  describe('hard-coded secrets', () => {
    const token = 'pat-na1-1b2c3d4e-5f60-4a7b-8c9d-0e1f2a3b4c5d';
    const apiKey = 'f3a9c2e71b5d4c08a6e2';

    it('reports private app tokens, bearer literals and credentials given to secret-like names, masked', async () => {
      const findings = await check([
        `const client = new hubspot.Client({ accessToken: '${token}' });`,
        "const headers = { Authorization: 'Bearer 0a1b2c3d4e5f6a7b8c9d' };",
        `const ENRICH_API_KEY = '${apiKey}';`,
        "const config = { aws: { accessKeyId: 'AKIAIOSFODNN7EXAMPLE' } };",
        "const password = 'hunter22';",
      ]);
      expect(findings.map((f) => `${f.line} ${f.rule}`)).toEqual(['1 hardcoded-secret', '2 hardcoded-secret', '3 hardcoded-secret', '4 hardcoded-secret', '5 hardcoded-secret']);
      expect(findings[0].message).toContain('HubSpot private app token (pat-na1-****, 44 characters)');
      expect(findings[3].message).toContain('AWS access key id (AKIA****, 20 characters)');
      expect(findings[0].fix).toContain('process.env.NAME');
      const reported = JSON.stringify(findings);
      for (const secret of [token, apiKey, '0a1b2c3d4e5f6a7b8c9d', 'IOSFODNN7EXAMPLE', 'hunter22']) expect(reported).not.toContain(secret);
    });

    it('accepts secrets read from the environment, URLs, labels and secret names', async () => {
      await expect(
        summary([
          'const token = process.env.HUBSPOT_TOKEN;',
          "const tokenUrl = 'https://auth.example.com/oauth/v1/token';",
          "const secretName = 'ENRICH_API_KEY';",
          "const cacheKey = 'contacts:v2:by-email';",
          'const headers = { Authorization: `Bearer ${process.env.ENRICH_TOKEN}` };',
          "const authHeader = 'Authorization';",
          'exports.main = async () => ({ outputFields: {} });',
        ]),
      ).resolves.toEqual([]);
    });
  });

  describe('random identifiers', () => {
    it('reports Math.random (can repeat) and per-run UUIDs (change on retry) used as keys', async () => {
      const findings = await check([
        "const crypto = require('node:crypto');",
        "const { v4 } = require('uuid');",
        'exports.main = async (event) => {',
        '  const idempotencyKey = Math.random().toString(36).slice(2);',
        '  const body = { requestId: crypto.randomUUID(), ref: v4() };',
        "  const headers = { 'Idempotency-Key': String(Math.floor(Math.random() * 1e9)) };",
        '  return { outputFields: {} };',
        '};',
      ]);
      expect(findings.filter((f) => f.rule === 'random-identifier').map((f) => `${f.line} ${f.severity}`)).toEqual(['4 error', '5 warning', '5 warning', '6 error']);
      expect(findings[1].fix).toContain('event.callbackId');
    });

    it('accepts random choices that are not identifiers, and keys derived from the event', async () => {
      await expect(
        summary([
          'exports.main = async (event) => {',
          '  const owners = [1, 2, 3];',
          '  const ownerIndex = Math.floor(Math.random() * owners.length);',
          '  const idempotencyKey = `${event.callbackId}:${event.object.objectId}`;',
          '  return { outputFields: { owner: owners[ownerIndex], key: idempotencyKey } };',
          '};',
        ]),
      ).resolves.toEqual([]);
    });
  });

  describe('inputs used without a check', () => {
    it('reports member access on inputs read directly, by bracket, destructured or kept in a variable', async () => {
      const findings = await check([
        'exports.main = async (event) => {',
        '  const a = event.inputFields.email.toLowerCase();',
        "  const b = event.inputFields['name'].trim();",
        '  const { country } = event.inputFields;',
        '  const c = country.toUpperCase();',
        '  const phone = event.inputFields.phone;',
        "  const d = phone.replace(/\\D/g, '');",
        '  return { outputFields: { a, b, c, d } };',
        '};',
      ]);
      expect(findings.map((f) => `${f.line}:${f.column} ${f.rule}`)).toEqual(['2:13 unguarded-input', '3:13 unguarded-input', '5:13 unguarded-input', '7:13 unguarded-input']);
      expect(findings[0].message).toContain('`event.inputFields.email.toLowerCase`');
    });

    it('accepts optional chaining, defaults, checks before use and try blocks', async () => {
      await expect(
        summary([
          'exports.main = async ({ inputFields }) => {',
          '  const a = inputFields.email?.toLowerCase();',
          "  const b = (inputFields.name ?? '').trim();",
          "  const { country = '' } = inputFields;",
          '  const c = country.toUpperCase();',
          '  const phone = inputFields.phone;',
          "  if (!phone) return { outputFields: { a, b, c, d: '' } };",
          "  const d = phone.replace(/\\D/g, '');",
          '  const e = inputFields.tags && inputFields.tags.split(",");',
          '  try { inputFields.notes.trim(); } catch { }',
          '  return { outputFields: { a, b, c, d, e } };',
          '};',
        ]),
      ).resolves.toEqual([]);
    });
  });

  describe('network calls', () => {
    it('reports calls with no error handling and calls with no timeout', async () => {
      const findings = await check([
        "const axios = require('axios');",
        "const hubspot = require('@hubspot/api-client');",
        'exports.main = async (event) => {',
        '  const client = new hubspot.Client({ accessToken: process.env.TOKEN });',
        "  const a = await fetch('https://api.example.com/a');",
        "  const b = await axios.get('https://api.example.com/b', { headers: {} });",
        '  const c = await client.crm.contacts.basicApi.getById(event.object.objectId);',
        '  return { outputFields: {} };',
        '};',
      ]);
      expect(findings.map((f) => `${f.line} ${f.rule}`)).toEqual([
        '5 network-timeout',
        '5 unhandled-network-error',
        '6 network-timeout',
        '6 unhandled-network-error',
        '7 unhandled-network-error',
      ]);
      expect(findings[0].fix).toContain('AbortSignal.timeout');
      expect(findings[2].fix).toContain('timeout: 5000');
    });

    it('accepts try/catch (also around the caller), .catch, timeouts in options, instances and defaults', async () => {
      await expect(
        summary([
          "const axios = require('axios');",
          "const api = axios.create({ baseURL: 'https://api.example.com', timeout: 3000 });",
          'axios.defaults.timeout = 4000;',
          'const options = { signal: AbortSignal.timeout(2000) };',
          "const lookup = (id) => fetch(`https://api.example.com/c/${id}`, options);",
          'exports.main = async (event) => {',
          "  fetch('https://hooks.example.com', { signal: AbortSignal.timeout(1000) }).catch(() => undefined);",
          '  try {',
          "    await api.get('/things');",
          "    await axios.post('https://api.example.com/p', {});",
          '    await lookup(event.object.objectId);',
          '  } catch (error) {',
          '    return { outputFields: { ok: false } };',
          '  }',
          "  const [r] = await Promise.allSettled([fetch('https://x.example.com', options)]);",
          '  return { outputFields: { ok: true } };',
          '};',
        ]),
      ).resolves.toEqual([]);
    });
  });

  describe('the 20-second budget', () => {
    it('reports loops and array callbacks that make a call per item, and long waits', async () => {
      const findings = await check([
        "const axios = require('axios');",
        'const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));',
        'const load = (id) => axios.get(`https://api.example.com/items/${id}`, { timeout: 1000 });',
        'exports.main = async (event) => {',
        '  try {',
        '    for (const id of [1, 2, 3]) {',
        '      await load(id);',
        '      await sleep(2000);',
        '    }',
        '    await Promise.all([1, 2].map((id) => load(id)));',
        '    [1, 2].forEach(async (id) => { await load(id); });',
        '    await sleep(15000);',
        '    await sleep(6000);',
        '  } catch (error) {',
        '    return { outputFields: {} };',
        '  }',
        '};',
      ]);
      expect(findings.map((f) => `${f.line} ${f.severity} ${f.rule}`)).toEqual([
        '6 warning time-budget',
        '8 warning time-budget',
        '10 warning time-budget',
        '11 warning time-budget',
        '12 error time-budget',
      ]);
      expect(findings[2].message).toContain('`map` makes a network call per item');
      expect(findings[3].message).toContain('does not wait');
      expect(findings[4].message).toContain('waits 21 s in all (2 waits)');
    });

    it('accepts single calls, parallel fixed calls, loops without calls and short waits', async () => {
      await expect(
        summary([
          'exports.main = async () => {',
          '  const options = { signal: AbortSignal.timeout(2000) };',
          '  try {',
          "    await Promise.all([fetch('https://a.example.com', options), fetch('https://b.example.com', options)]);",
          '    let total = 0;',
          '    for (const n of [1, 2, 3]) total += n;',
          '    for (const n of [1, 2]) await new Promise((resolve) => setTimeout(resolve, 200));',
          '    await new Promise((resolve) => setTimeout(resolve, 3000));',
          '    return { outputFields: { total } };',
          '  } catch (error) {',
          '    return { outputFields: { total: 0 } };',
          '  }',
          '};',
        ]),
      ).resolves.toEqual([]);
    });
  });

  describe('loops that can only spin', () => {
    it('reports while (true), for (;;) and loops whose body neither changes what they test nor waits', async () => {
      await expect(
        summary([
          'exports.main = async (event) => {',
          '  let done = false;',
          '  while (true) {}',
          '  for (;;) { if (done) break; }',
          '  do {} while (!done);',
          '  for (let i = 0; ; i++) { if (i > 5) break; }',
          '  while (true) { await new Promise((resolve) => setTimeout(resolve, 100)); }',
          '  const items = [1, 2];',
          '  while (items.length) items.pop();',
          '  while (true) { break; }',
          '  for (;;) { done = true; if (done) return { outputFields: {} }; }',
          '};',
        ]),
      ).resolves.toEqual(['3 error time-budget', '4 error time-budget', '5 error time-budget']);
    });
  });

  describe('outputs against their declaration', () => {
    const declaration = [
      { name: 'score', type: 'number' as const },
      { name: 'tier', type: 'enumeration' as const },
      { name: 'scored_at', type: 'datetime' as const },
      { name: 'qualified', type: 'bool' as const },
    ];

    it('reports outputs returned but not declared, declared but never returned, and plain type mismatches', async () => {
      const findings = await check(
        [
          'exports.main = async (event) => {',
          '  const outputs = { Score: 10 };',
          "  outputs.tier = 'gold';",
          '  outputs.scored_at = new Date().toISOString();',
          "  outputs.qualified = 'yes';",
          '  return { outputFields: outputs };',
          '};',
        ],
        { declaration },
      );
      expect(findings.map((f) => `${f.line} ${f.severity} ${f.rule}`)).toEqual([
        '2 error output-mismatch',
        '4 warning output-mismatch',
        '5 warning output-mismatch',
        '6 error output-mismatch',
      ]);
      expect(findings[0].message).toContain('`Score` is returned but not declared');
      expect(findings[0].fix).toBe('rename it to `score`');
      expect(findings[1].message).toContain('declared datetime but gets a date formatted as text');
      expect(findings[2].message).toContain('declared bool but gets the string "yes"');
      expect(findings[3].message).toContain('`score` (number) is declared but never returned');
    });

    it('accepts outputs that match, in returns and legacy callbacks alike, and does not guess about spread outputs', async () => {
      const matching = [
        'exports.main = async (event, callback) => {',
        '  const score = Number(event.inputFields.score ?? 0);',
        "  const result = { score, tier: score > 50 ? 'gold' : 'silver', scored_at: Date.now(), qualified: score > 50 };",
        '  callback({ outputFields: result });',
        '};',
      ];
      await expect(summary(matching, { declaration })).resolves.toEqual(['1 error callback-handler', '4 error callback-handler']);
      const spread = ['exports.main = async (event) => ({ outputFields: { ...event.inputFields, score: 1 } });'];
      await expect(summary(spread, { declaration })).resolves.toEqual([]);
    });
  });

  describe('URLs built from inputs', () => {
    it('reports a host chosen by an input as an error and an unencoded input in the path as a warning', async () => {
      const findings = await check([
        'exports.main = async (event) => {',
        '  const options = { signal: AbortSignal.timeout(2000) };',
        '  const site = event.inputFields.website;',
        '  const base = `https://${site}`;',
        '  try {',
        '    await fetch(event.inputFields.webhook_url, options);',
        "    await fetch(base + '/api/company', options);",
        "    await fetch(new URL('/lookup', `https://${site}`), options);",
        '    await fetch(`https://api.example.com/people/${event.inputFields.email}`, options);',
        '  } catch (error) {',
        '    return { outputFields: {} };',
        '  }',
        '};',
      ]);
      expect(findings.map((f) => `${f.line} ${f.severity} ${f.rule}`)).toEqual([
        '6 error url-from-input',
        '7 error url-from-input',
        '8 error url-from-input',
        '9 warning url-from-input',
      ]);
      expect(findings[1].message).toContain('host comes from `site`');
    });

    it('accepts fixed hosts, encoded inputs, record ids and relative paths on a fixed base', async () => {
      await expect(
        summary([
          "const axios = require('axios');",
          "const api = axios.create({ baseURL: 'https://billing.example.com', timeout: 2000 });",
          "const BASE = 'https://api.example.com/v1';",
          'exports.main = async (event) => {',
          '  const options = { signal: AbortSignal.timeout(2000) };',
          '  try {',
          '    await fetch(`${BASE}/people?email=${encodeURIComponent(event.inputFields.email)}`, options);',
          '    await fetch(`https://api.example.com/contacts/${event.object.objectId}`, options);',
          '    await api.get(`/accounts/${encodeURIComponent(event.inputFields.account)}`);',
          '  } catch (error) {',
          '    return { outputFields: {} };',
          '  }',
          '};',
        ]),
      ).resolves.toEqual([]);
    });
  });

  it('reports a syntax error alone, where it is', async () => {
    await expect(summary(['exports.main = async (event) => {', '  const x = (1;', '};'])).resolves.toEqual(['2 error syntax-error']);
  });

  it('parses ES modules (.mjs) and exported mains', async () => {
    await expect(summary(["import axios from 'axios';", 'export async function main(event, callback) {', '  callback({ outputFields: {} });', '}'], {}, 'action.mjs')).resolves.toEqual([
      '2 error callback-handler',
      '3 error callback-handler',
    ]);
  });
});
