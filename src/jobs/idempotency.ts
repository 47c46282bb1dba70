import { canonicalJson } from '../common/canonical-json';
import { sha256Hex } from '../common/sha256';
import type { ObjectRef } from './job-record';

export interface JobRequestIdentity {
  type: string;
  input: Record<string, unknown>;
  object?: ObjectRef;
  callbackId?: string;
  writeback: boolean;
  /** A dry run computes the change and writes nothing: not the same work as the job that writes. */
  dryRun?: boolean;
  /** Set for jobs that complete a blocking workflow step; it is part of what the job does. */
  completesWorkflowStep?: boolean;
}

/** What makes two requests "the same request": everything the job would do, in canonical form. */
export function requestHash(request: JobRequestIdentity): string {
  return sha256Hex(
    canonicalJson({
      type: request.type,
      input: request.input,
      object: request.object ?? null,
      callbackId: request.callbackId ?? null,
      writeback: request.writeback,
      // Only when set, so the hash of every other request stays what it always was.
      ...(request.completesWorkflowStep ? { completesWorkflowStep: true } : {}),
      ...(request.dryRun ? { dryRun: true } : {}),
    }),
  );
}

/**
 * The key for a request that brought none. From a workflow (an object or a callback id), it is the
 * execution's identity, so a platform retry finds the first job even if an input drifted; otherwise
 * it is the request itself. It depends only on stable values: every instance and restart agrees.
 * `hash` is the request's requestHash, for a caller that has it already.
 */
export function deriveIdempotencyKey(portalId: string, request: JobRequestIdentity, hash = requestHash(request)): string {
  const execution = [portalId, request.type, request.object?.type.toLowerCase() ?? '', request.object?.id ?? '', request.callbackId ?? ''];
  // A blocking step has a namespace of its own: an API job that names the same callbackId must not
  // become the job the step waits on, as it would never complete the step. So has a dry run: trying
  // a record first must not take the key of the job that then writes it.
  const identity = request.completesWorkflowStep
    ? ['workflow-step', ...execution]
    : request.dryRun
      ? ['dry-run', ...execution]
      : request.object || request.callbackId
      ? ['execution', ...execution]
      : ['request', portalId, hash];
  return `auto-${sha256Hex(JSON.stringify(identity)).slice(0, 40)}`;
}
