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

/** The job's current state does not allow what was asked (cancelling an ended job, say). */
export class InvalidJobStateError extends DomainError {}

/** Values the domain refuses, each problem naming its field. */
export class InvalidInputError extends DomainError {
  constructor(
    readonly problems: FieldProblem[],
    message = validationMessage(problems),
  ) {
    super(message);
  }
}
