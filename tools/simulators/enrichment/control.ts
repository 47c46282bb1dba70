import { answerControl, controlError, HttpAnswer } from '../common';
import { normaliseDomain } from '../../../src/handlers/enrichment/domain';
import { parseModeRule } from './modes';
import type { EnrichmentSimulator } from './simulator';

function optionalInteger(value: unknown, name: string, min: number): number | undefined {
  if (value === undefined || value === null || value === '') return undefined;
  const n = Number(value);
  if (!Number.isInteger(n) || n < min) throw new Error(`${name} must be an integer >= ${min}`);
  return n;
}

/**
 * The simulator's own endpoints under /__sim/ (no key, not rate-limited, not recorded): the call
 * record and counters, modes, company records and limits. See README.md.
 */
export function handleControl(sim: EnrichmentSimulator, method: string, path: string, query: URLSearchParams, rawBody: string): HttpAnswer {
  return answerControl(method, path, rawBody, ({ route, body }) => {
    switch (route) {
      case 'GET /__sim/health':
        return { status: 200, body: { ok: true, url: sim.url } };
      case 'GET /__sim/stats':
        return { status: 200, body: sim.stats() };
      case 'GET /__sim/calls': {
        const calls = sim.calls({
          endpoint: query.get('endpoint') ?? undefined,
          subject: query.get('subject') ?? undefined,
          limit: optionalInteger(query.get('limit'), 'limit', 0),
        });
        return { status: 200, body: { returned: calls.length, calls } };
      }
      case 'DELETE /__sim/calls':
      case 'DELETE /__sim/stats':
        sim.resetCalls();
        return { status: 204 };
      case 'GET /__sim/modes':
        return { status: 200, body: { modes: sim.modes.list() } };
      case 'POST /__sim/modes': {
        const rules = Array.isArray(body.modes) ? body.modes.map(parseModeRule) : [parseModeRule(body)];
        for (const rule of rules) sim.modes.set(rule);
        return { status: 200, body: { modes: sim.modes.list() } };
      }
      case 'DELETE /__sim/modes': {
        const domain = query.get('domain');
        sim.modes.clear(domain === null ? undefined : normaliseDomain(domain));
        return { status: 204 };
      }
      case 'PUT /__sim/companies': {
        if (typeof body.domain !== 'string') return controlError('domain (a string) is required');
        const record = body.record === null ? null : body.record;
        if (record !== null && (typeof record !== 'object' || Array.isArray(record))) return controlError('record must be an object of PDL company fields, or null for no match');
        sim.setCompany(body.domain, record as never);
        return { status: 200, body: { domain: normaliseDomain(body.domain), record: sim.company(normaliseDomain(body.domain)) ?? null } };
      }
      case 'GET /__sim/companies': {
        const domain = query.get('domain');
        if (domain === null) return controlError('?domain= is required');
        const record = sim.company(normaliseDomain(domain));
        return record ? { status: 200, body: record } : controlError(`no company for ${domain}`, 404);
      }
      case 'GET /__sim/limits':
        return { status: 200, body: sim.limits() };
      case 'PUT /__sim/limits':
        sim.setLimits({
          rateLimit: optionalInteger(body.rateLimit, 'rateLimit', 0),
          windowMs: optionalInteger(body.windowMs, 'windowMs', 1),
          latencyMs: optionalInteger(body.latencyMs, 'latencyMs', 0),
        });
        return { status: 200, body: sim.limits() };
      case 'POST /__sim/keys': {
        if (typeof body.key !== 'string') return controlError('key (a string) is required');
        sim.addApiKey(body.key);
        return { status: 201, body: { key: body.key } };
      }
    }
    return undefined;
  });
}
