import type { Client } from '@hubspot/api-client';
import { Injectable, Logger, Provider } from '@nestjs/common';
import type { Static, TSchema } from '@sinclair/typebox';
import type { FieldProblem } from '../common/api-error';
import type { HandlerSettings, SettingDeclarations } from './handler-settings';

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
  /**
   * The CRM property write-back puts the output in when the portal's property mappings do not say:
   * the output's own name unless given; null writes it only where a portal maps it.
   */
  property?: string | null;
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
  /**
   * Settings a portal may give this handler (PUT /v1/admin/portals/:id/handlers/:type/config),
   * checked against `schema`; a portal that set none gets `default`. `check` refuses what JSON Schema
   * cannot express (ordered thresholds, ranges that must not overlap): it sees only settings that
   * passed the schema, and answers each problem with its field's path.
   */
  config?: { schema: TSchema; default: unknown; check?(config: unknown): FieldProblem[] };
  /**
   * Environment variables the handler reads, named after its type (ENRICHMENT_* for `enrichment`),
   * each with its default. They are read and checked at start-up, which stops on an invalid one;
   * the values reach `egress` and context.settings.
   */
  settings?: SettingDeclarations;
  /** The origins (scheme://host[:port]) context.http may reach, from the handler's settings. */
  egress?(settings: HandlerSettings): string[];
  /**
   * The HubSpot app scopes its jobs need beyond write-back's and step completion's
   * (crm.objects.owners.read, ...): asked for when the app is installed.
   */
  scopes?: readonly string[];
  /**
   * The records a workflow may run it on, as HubSpot names them (CONTACT, COMPANY, LEAD, 2-12345):
   * its custom workflow action's objectTypes. Reading and writing them is asked for at install.
   */
  objectTypes?: readonly string[];
  /**
   * Properties of the record its custom action asks HubSpot to send with each request
   * (objectRequestOptions): they reach the job as object.properties, and context.hubspot answers
   * reads of them without a call.
   */
  objectProperties?: readonly string[];
  /** Helpers from the handler's folder its constructor takes, registered beside it (a unit test passes its own). */
  providers?: Provider[];
}

export interface JobRef {
  id: string;
  type: string;
  portalId: string;
  attempt: number;
  maxAttempts: number;
  /** The job's record; `properties`: those its request carried, which context.hubspot.readProperties answers from first. */
  object: { type: string; id: string; properties?: Record<string, string | null> } | null;
  callbackId: string | null;
  traceId: string;
}

/** A HubSpot user who can own records; assign with `id` (hubspot_owner_id), not `userId`. */
export interface HubSpotOwner {
  id: string;
  email: string;
  firstName: string;
  lastName: string;
  userId: number | null;
  teams: { id: string; name: string; primary: boolean }[];
}

/**
 * HubSpot for the job's portal, within the portal's rate budget at the job's priority. Failures
 * throw JobFailure: `hubspot_unavailable` (retryable), `hubspot_not_connected`, `hubspot_refused`.
 */
export interface JobHubSpot {
  /**
   * A record's properties (null when unset). Answered from the properties the job's request carried
   * for the record when they hold every one asked for; otherwise read from HubSpot, where reads from
   * jobs running together share batch read calls.
   */
  readProperties(object: { type: string; id: string }, properties: string[]): Promise<Record<string, string | null>>;
  /** The portal's active owners, cached for a minute. */
  owners(): Promise<HubSpotOwner[]>;
  /** Any other call through the official client. */
  call<T>(operation: (client: Client) => Promise<T>): Promise<T>;
}

/** The portal's secrets (PUT /v1/admin/portals/:id/secrets/:name), stored encrypted and decrypted on demand. */
export interface PortalSecrets {
  get(name: string): Promise<string | undefined>;
}

/**
 * fetch limited to the handler's declared egress origins (anything else throws JobFailure
 * `egress_denied`), aborted with the job and after timeoutMs (10 s unless given).
 */
export interface EgressHttp {
  fetch(url: string | URL, init?: RequestInit & { timeoutMs?: number }): Promise<Response>;
}

/** What a handler sees of the world: its validated input, the job, a stop signal, its settings, the portal's settings and services. */
export interface JobContext<I, C = unknown, S = HandlerSettings> {
  input: I;
  job: JobRef;
  /** Aborted when the job is cancelled, times out, or the worker shuts down: stop promptly. */
  signal: AbortSignal;
  logger: Logger;
  /** The portal's settings for this handler, or the declaration's default. */
  config: C;
  /** The handler's environment settings, as read at start-up. */
  settings: S;
  secrets: PortalSecrets;
  http: EgressHttp;
  hubspot: JobHubSpot;
}

export type OutputValue = string | number | boolean;
export type JobOutputs = Record<string, OutputValue>;

export interface JobHandler<I = unknown, O extends JobOutputs = JobOutputs, C = unknown, S = HandlerSettings> {
  run(context: JobContext<I, C, S>): Promise<O>;
}

export type InputOf<D extends HandlerDeclaration> = Static<D['input']>;
export type ConfigOf<D extends HandlerDeclaration> = D['config'] extends { schema: infer S extends TSchema } ? Static<S> : undefined;

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
