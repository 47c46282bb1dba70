import { FieldProblem, validationMessage } from './api-error';

/**
 * A request the domain refuses, whoever made it: an API call or a worker. Services throw these;
 * the API answers them with the contract's status and code (see error-mapping.ts).
 */
export abstract class DomainError extends Error {}

/** The thing asked for does not exist, or is not the caller's. */
export class NotFoundError extends DomainError {
  constructor(what: string) {
    super(`${what} not found`);
  }
}

/** The request clashes with something that exists already. */
export class ConflictError extends DomainError {
  constructor(
    message: string,
    readonly problems?: FieldProblem[],
  ) {
    super(message);
  }
}

/** An idempotency key that already belongs to a different request. */
export class IdempotencyConflictError extends DomainError {
  constructor(
    readonly idempotencyKey: string,
    readonly jobId: string,
  ) {
    super(`Idempotency key ${idempotencyKey} already belongs to a different request (job ${jobId})`);
  }
}

/** The job's current state does not allow what was asked (cancelling an ended job, say). */
export class InvalidJobStateError extends DomainError {}

/** A job type no handler is registered for. */
export class UnknownJobTypeError extends DomainError {
  constructor(readonly type: string) {
    super(`Unknown job type "${type}"; GET /v1/handlers lists the known ones`);
  }
}

/** What was asked could not be done now for want of a backing service; trying again may succeed. */
export class UnavailableError extends DomainError {}

/** Values the domain refuses, each problem naming its field. */
export class InvalidInputError extends DomainError {
  constructor(
    readonly problems: FieldProblem[],
    message = validationMessage(problems),
  ) {
    super(message);
  }
}
