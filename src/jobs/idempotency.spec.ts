import { deriveIdempotencyKey, JobRequestIdentity, requestHash } from './idempotency';

const portal = '3f0c7a54-0d7e-4b8e-9d5b-2a6f1a2b3c4d';
const base: JobRequestIdentity = { type: 'enrichment', input: { domain: 'acme.com', depth: 2 }, writeback: false };

describe('requestHash', () => {
  it('ignores key order and is stable', () => {
    const a = requestHash({ ...base, input: { domain: 'acme.com', depth: 2 } });
    const b = requestHash({ ...base, input: { depth: 2, domain: 'acme.com' } });
    expect(a).toBe(b);
    expect(a).toMatch(/^[0-9a-f]{64}$/);
  });

  it('changes with anything the job would do differently', () => {
    const original = requestHash(base);
    expect(requestHash({ ...base, input: { domain: 'acme.io', depth: 2 } })).not.toBe(original);
    expect(requestHash({ ...base, writeback: true })).not.toBe(original);
    expect(requestHash({ ...base, type: 'icp-score' })).not.toBe(original);
    expect(requestHash({ ...base, callbackId: 'ap-1' })).not.toBe(original);
    expect(requestHash({ ...base, completesWorkflowStep: true })).not.toBe(original);
    expect(requestHash({ ...base, dryRun: true })).not.toBe(original);
  });

  it('keeps the hash of a request that completes no workflow step, and writes for real, as it was', () => {
    expect(requestHash({ ...base, completesWorkflowStep: false, dryRun: false })).toBe(requestHash(base));
  });
});

describe('deriveIdempotencyKey', () => {
  const execution = { ...base, object: { type: 'CONTACT', id: '42' }, callbackId: 'ap-123-456-7-8' };

  it('is a pure function of its inputs, fixed across releases', () => {
    expect(deriveIdempotencyKey(portal, execution)).toBe(deriveIdempotencyKey(portal, { ...execution }));
    // Pinned: a change here would let a workflow retry after an upgrade run the work twice.
    expect(deriveIdempotencyKey(portal, execution)).toBe('auto-72ec20ca170be7c16aee02ae7dff784e12783377');
  });

  it('identifies a workflow execution by portal, type, object and callback id, not by input', () => {
    const key = deriveIdempotencyKey(portal, execution);
    expect(deriveIdempotencyKey(portal, { ...execution, input: { domain: 'other.com' } })).toBe(key);
    expect(deriveIdempotencyKey(portal, { ...execution, object: { type: 'contact', id: '42' } })).toBe(key);
    expect(deriveIdempotencyKey(portal, { ...execution, callbackId: 'ap-123-456-7-9' })).not.toBe(key);
    expect(deriveIdempotencyKey(portal, { ...execution, object: { type: 'CONTACT', id: '43' } })).not.toBe(key);
    expect(deriveIdempotencyKey(portal, { ...execution, type: 'icp-score' })).not.toBe(key);
    expect(deriveIdempotencyKey('another-portal', execution)).not.toBe(key);
  });

  it('keeps a blocking workflow step apart from an API job naming the same execution', () => {
    const step = { ...execution, completesWorkflowStep: true };
    expect(deriveIdempotencyKey(portal, step)).not.toBe(deriveIdempotencyKey(portal, execution));
    expect(deriveIdempotencyKey(portal, { ...step, input: { domain: 'other.com' } })).toBe(deriveIdempotencyKey(portal, step));
    expect(deriveIdempotencyKey(portal, { ...execution, completesWorkflowStep: false })).toBe(deriveIdempotencyKey(portal, execution));
  });

  it('keeps a dry run apart from the job that then writes the same record', () => {
    const dryRun = { ...execution, writeback: true, dryRun: true };
    expect(deriveIdempotencyKey(portal, dryRun)).not.toBe(deriveIdempotencyKey(portal, { ...execution, writeback: true }));
    expect(deriveIdempotencyKey(portal, { ...dryRun, input: { domain: 'other.com' } })).toBe(deriveIdempotencyKey(portal, dryRun));
    expect(deriveIdempotencyKey(portal, { ...execution, dryRun: false })).toBe(deriveIdempotencyKey(portal, execution));
  });

  it('falls back to the canonical request when there is no object or callback id', () => {
    const key = deriveIdempotencyKey(portal, base);
    expect(deriveIdempotencyKey(portal, { ...base, input: { depth: 2, domain: 'acme.com' } })).toBe(key);
    expect(deriveIdempotencyKey(portal, { ...base, input: { domain: 'x.com', depth: 2 } })).not.toBe(key);
  });
});
