import { answerControl, controlError, HttpAnswer } from '../common';
import type { HubSpotSimulator } from './simulator';

function optionalNumber(value: unknown, name: string): number | undefined {
  if (value === undefined || value === null || value === '') return undefined;
  const n = Number(value);
  if (!Number.isFinite(n)) throw new Error(`${name} must be a number`);
  return n;
}

/**
 * The simulator's own endpoints under /__sim/ (no authentication, not rate-limited, not recorded):
 * the call record and counters, faults, limits, the clock and seeding. See README.md.
 */
export function handleControl(sim: HubSpotSimulator, method: string, path: string, query: URLSearchParams, rawBody: string): HttpAnswer {
  return answerControl(method, path, rawBody, ({ route, body }) => {
    switch (route) {
      case 'GET /__sim/health':
        return { status: 200, body: { ok: true, url: sim.url, portalId: sim.portalId } };
      case 'GET /__sim/calls': {
        const filter = {
          limit: optionalNumber(query.get('limit'), 'limit'),
          portalId: optionalNumber(query.get('portalId'), 'portalId'),
          status: optionalNumber(query.get('status'), 'status'),
          endpoint: query.get('endpoint') ?? undefined,
        };
        const calls = sim.listCalls(filter);
        return { status: 200, body: { ...sim.recordedTotal, returned: calls.length, calls } };
      }
      case 'DELETE /__sim/calls':
      case 'DELETE /__sim/stats':
        sim.resetCalls();
        return { status: 204 };
      case 'GET /__sim/stats':
        return { status: 200, body: sim.stats() };
      case 'GET /__sim/faults':
        return { status: 200, body: sim.inject.current() };
      case 'POST /__sim/faults':
      case 'PUT /__sim/faults':
        if (method === 'PUT') sim.inject.clear();
        sim.inject.faults(body);
        return { status: 200, body: sim.inject.current() };
      case 'DELETE /__sim/faults':
        sim.inject.clear();
        return { status: 204 };
      case 'GET /__sim/limits':
        return { status: 200, body: sim.limits(optionalNumber(query.get('portalId'), 'portalId') ?? sim.portalId) };
      case 'PUT /__sim/limits':
      case 'POST /__sim/limits': {
        const portalId = optionalNumber(body.portalId, 'portalId');
        sim.setLimits({
          rateLimit: optionalNumber(body.rateLimit, 'rateLimit'),
          windowMs: optionalNumber(body.windowMs, 'windowMs'),
          dailyLimit: optionalNumber(body.dailyLimit, 'dailyLimit'),
          portalId,
        });
        return { status: 200, body: sim.limits(portalId ?? sim.portalId) };
      }
      case 'POST /__sim/limits/spend': {
        const portalId = optionalNumber(body.portalId, 'portalId') ?? sim.portalId;
        const spent = sim.spend(optionalNumber(body.calls, 'calls') ?? 0, portalId);
        return { status: 200, body: { spent, limits: sim.limits(portalId) } };
      }
      case 'POST /__sim/clock': {
        sim.advanceClock(optionalNumber(body.advanceMs, 'advanceMs') ?? 0);
        return { status: 200, body: { now: new Date(sim.now()).toISOString() } };
      }
      case 'GET /__sim/clock':
        return { status: 200, body: { now: new Date(sim.now()).toISOString() } };
      case 'POST /__sim/portals': {
        const portalId = optionalNumber(body.portalId, 'portalId');
        if (portalId === undefined) return controlError('portalId is required');
        const tokens = Array.isArray(body.privateAppTokens) ? body.privateAppTokens.map(String) : undefined;
        sim.addPortal({ portalId, privateAppTokens: tokens, rateLimit: optionalNumber(body.rateLimit, 'rateLimit'), dailyLimit: optionalNumber(body.dailyLimit, 'dailyLimit') });
        const all = [...sim.state.tokens.values()].filter((t) => t.portalId === portalId && t.kind === 'private_app').map((t) => t.token);
        return { status: 201, body: { portalId, privateAppTokens: all } };
      }
      case 'POST /__sim/tokens': {
        const portalId = optionalNumber(body.portalId, 'portalId') ?? sim.portalId;
        if (body.type === 'oauth') {
          const issued = sim.issueOAuthTokens(portalId, {
            clientId: typeof body.clientId === 'string' ? body.clientId : undefined,
            expiresInSeconds: optionalNumber(body.expiresInSeconds, 'expiresInSeconds'),
          });
          return { status: 201, body: { portalId, type: 'oauth', ...issued } };
        }
        const token = sim.addPrivateAppToken(portalId, typeof body.token === 'string' ? body.token : undefined);
        return { status: 201, body: { portalId, type: 'private_app', token } };
      }
      case 'POST /__sim/tokens/expire': {
        if (typeof body.token !== 'string') return controlError('token is required');
        sim.expireToken(body.token);
        return { status: 204 };
      }
      case 'POST /__sim/owners': {
        const portalId = optionalNumber(body.portalId, 'portalId') ?? sim.portalId;
        const owners = Array.isArray(body.owners) ? sim.seedOwners(body.owners as never, portalId) : sim.seedOwners(optionalNumber(body.count, 'count') ?? 0, portalId);
        return { status: 201, body: { results: owners } };
      }
      case 'POST /__sim/callbacks': {
        const ids = Array.isArray(body.callbackIds) ? body.callbackIds.map(String) : typeof body.callbackId === 'string' ? [body.callbackId] : [];
        if (ids.length === 0) return controlError('callbackId or callbackIds is required');
        const portalId = optionalNumber(body.portalId, 'portalId') ?? sim.portalId;
        for (const id of ids) sim.registerCallback(id, portalId);
        return { status: 201, body: { registered: ids.length } };
      }
      case 'GET /__sim/callbacks': {
        const callbackId = query.get('callbackId');
        const completions = sim.callbacks.filter((c) => !callbackId || c.callbackId === callbackId);
        return { status: 200, body: { total: completions.length, completions } };
      }
    }
    const edit = /^POST \/__sim\/objects\/([^/]+)\/([^/]+)\/edits$/.exec(route);
    if (edit) {
      if (body.properties === null || typeof body.properties !== 'object' || Array.isArray(body.properties)) return controlError('properties (an object of strings) is required');
      const properties = Object.fromEntries(Object.entries(body.properties as Record<string, unknown>).map(([name, value]) => [name, String(value)]));
      sim.editAsPerson(decodeURIComponent(edit[1]), decodeURIComponent(edit[2]), properties, {
        userId: optionalNumber(body.userId, 'userId'),
        portalId: optionalNumber(body.portalId, 'portalId'),
      });
      return { status: 204 };
    }
    const objects = /^(GET|POST) \/__sim\/objects\/([^/]+)(?:\/([^/]+))?$/.exec(route);
    if (objects) {
      const [, verb, type, id] = objects;
      if (verb === 'POST' && !id) {
        const portalId = optionalNumber(body.portalId, 'portalId') ?? sim.portalId;
        if (body.count !== undefined) {
          const count = optionalNumber(body.count, 'count') ?? 0;
          const key = type === '0-1' ? 'contacts' : type === '0-2' ? 'companies' : type === '0-3' ? 'deals' : type;
          sim.seedDemoData(portalId, { [key]: count });
          return { status: 201, body: { seeded: count } };
        }
        if (!Array.isArray(body.records)) return controlError('records (a list) or count is required');
        const created = sim.seed(decodeURIComponent(type), body.records as never, portalId);
        return { status: 201, body: { results: created } };
      }
      if (verb === 'GET' && id) {
        const record = sim.getObject(decodeURIComponent(type), decodeURIComponent(id), optionalNumber(query.get('portalId'), 'portalId') ?? sim.portalId);
        return record ? { status: 200, body: record } : controlError(`no ${type} ${id}`, 404);
      }
    }
    return undefined;
  });
}
