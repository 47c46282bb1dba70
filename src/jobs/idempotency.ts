import { createHash } from 'node:crypto';
import { canonicalJson } from '../common/canonical-json';
import type { ObjectRef } from './job-record';

export interface JobRequestIdentity {
  type: string;
  input: Record<string, unknown>;
  object?: ObjectRef;
  callbackId?: string;
  writeback: boolean;
}

function sha256(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

/** What makes two requests "the same request": everything the job would do, in canonical form. */
export function requestHash(request: JobRequestIdentity): string {
  return sha256(
    canonicalJson({
      type: request.type,
      input: request.input,
      object: request.object ?? null,
      callbackId: request.callbackId ?? null,
      writeback: request.writeback,
    }),
  );
}

/**
 * The key for a request that brought none. From a workflow (an object or a callback id), it is the
 * execution's identity, so a platform retry finds the first job even if an input drifted; otherwise
 * it is the request itself. It depends only on stable values: every instance and restart agrees.
 */
export function deriveIdempotencyKey(portalId: string, request: JobRequestIdentity): string {
  const identity =
    request.object || request.callbackId
      ? ['execution', portalId, request.type, request.object?.type.toLowerCase() ?? '', request.object?.id ?? '', request.callbackId ?? '']
      : ['request', portalId, requestHash(request)];
  return `auto-${sha256(JSON.stringify(identity)).slice(0, 40)}`;
}
