import { Injectable, Logger } from '@nestjs/common';
import type { Static, TSchema } from '@sinclair/typebox';

/** The output types a HubSpot workflow step can declare. */
export const HUBSPOT_OUTPUT_TYPES = ['string', 'number', 'bool', 'datetime', 'date', 'enumeration', 'phone_number'] as const;
export type HubSpotOutputType = (typeof HUBSPOT_OUTPUT_TYPES)[number];

export interface OutputDeclaration {
  hubspotType: HubSpotOutputType;
  description: string;
  /** The allowed values of an enumeration output. */
  options?: readonly string[];
  /** An optional output may be left out; a declared output is otherwise always present. */
  optional?: boolean;
}

export interface RetryPolicy {
  /** Total runs allowed, the first included. */
  attempts: number;
  /** The first retry waits about this long; each later one doubles it, with jitter, up to maxBackoffMs. */
  backoffMs: number;
  maxBackoffMs: number;
}

export interface HandlerDeclaration<I extends TSchema = TSchema> {
  /** Permanent: workflows enqueue by this name and queues are named after it. */
  type: string;
  version: string;
  owner: string;
  description: string;
  input: I;
  outputs: Record<string, OutputDeclaration>;
  timeoutMs?: number;
  retry?: Partial<RetryPolicy>;
  /** How many jobs of this type one worker process runs at once. */
  concurrency?: number;
}

export interface JobRef {
  id: string;
  type: string;
  portalId: string;
  attempt: number;
  maxAttempts: number;
  object: { type: string; id: string } | null;
  callbackId: string | null;
  traceId: string;
}

/** What a handler sees of the world: its validated input, the job, a stop signal and a logger. */
export interface JobContext<I> {
  input: I;
  job: JobRef;
  /** Aborted when the job is cancelled, times out, or the worker shuts down: stop promptly. */
  signal: AbortSignal;
  logger: Logger;
}

export type OutputValue = string | number | boolean;
export type JobOutputs = Record<string, OutputValue>;

export interface JobHandler<I = unknown, O extends JobOutputs = JobOutputs> {
  run(context: JobContext<I>): Promise<O>;
}

export type InputOf<D extends HandlerDeclaration> = Static<D['input']>;

/**
 * Thrown by a handler to fail a run on purpose. A retryable failure is run again after backoff (or
 * after retryAfterMs, when the remote side said how long to wait); any other fails the job at once.
 */
export class JobFailure extends Error {
  readonly retryable: boolean;
  readonly retryAfterMs?: number;

  constructor(
    readonly code: string,
    message: string,
    options: { retryable: boolean; retryAfterMs?: number },
  ) {
    super(message);
    this.retryable = options.retryable;
    this.retryAfterMs = options.retryAfterMs;
  }
}

export const HANDLER_DECLARATION = Symbol('offload:handler-declaration');

/** Marks a class as the handler of one job type; the registry discovers it at boot. */
export function JobHandlerOf(declaration: HandlerDeclaration): ClassDecorator {
  return (target) => {
    Reflect.defineMetadata(HANDLER_DECLARATION, declaration, target);
    Injectable()(target);
  };
}

export function declarationOf(target: unknown): HandlerDeclaration | undefined {
  return typeof target === 'function' ? Reflect.getMetadata(HANDLER_DECLARATION, target) : undefined;
}
