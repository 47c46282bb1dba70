import { createHash } from 'node:crypto';

/** The two rate-limit policies HubSpot names in its 429 answers. */
export type RateLimitPolicy = 'TEN_SECONDLY_ROLLING' | 'DAILY';

/** HubSpot's usual error body: `{status: "error", message, correlationId, category, ...}`. */
export interface HubSpotErrorBody {
  status: 'error';
  message: string;
  correlationId: string;
  category?: string;
  context?: Record<string, string[]>;
  [key: string]: unknown;
}

/**
 * Correlation ids shaped like HubSpot's (UUID v4), derived from a seed and a counter so that two
 * runs with the same seed and the same calls produce the same ids.
 */
export class CorrelationIds {
  private counter = 0;

  constructor(private readonly seed: number) {}

  next(): string {
    const h = createHash('sha1').update(`${this.seed}:${++this.counter}`).digest('hex');
    const variant = ((parseInt(h[16], 16) & 0x3) | 0x8).toString(16);
    return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-${variant}${h.slice(17, 20)}-${h.slice(20, 32)}`;
  }
}

export function errorBody(correlationId: string, category: string, message: string, context?: Record<string, string[]>): HubSpotErrorBody {
  // Key order as HubSpot writes it: status, message, correlationId, [context], category.
  return context
    ? { status: 'error', message, correlationId, context, category }
    : { status: 'error', message, correlationId, category };
}

export const MISSING_CREDENTIALS_MESSAGE =
  'Authentication credentials not found. This API supports OAuth 2.0 authentication and you can find more details at https://developers.hubspot.com/docs/methods/auth/oauth-overview';

export function invalidAuthentication(correlationId: string): HubSpotErrorBody {
  return errorBody(correlationId, 'INVALID_AUTHENTICATION', MISSING_CREDENTIALS_MESSAGE);
}

export function expiredAuthentication(correlationId: string, expiredForMs: number): HubSpotErrorBody {
  const minutes = Math.floor(expiredForMs / 60_000);
  return errorBody(correlationId, 'EXPIRED_AUTHENTICATION', `The OAuth token used to make this call expired ${minutes} minute(s) ago.`);
}

/** The exact 429 bodies: key order and wording as HubSpot sends them. */
export function rateLimitBody(correlationId: string, policy: RateLimitPolicy): Record<string, string> {
  return policy === 'TEN_SECONDLY_ROLLING'
    ? {
        status: 'error',
        message: 'You have reached your ten_secondly_rolling limit.',
        errorType: 'RATE_LIMIT',
        correlationId,
        policyName: 'TEN_SECONDLY_ROLLING',
      }
    : {
        status: 'error',
        message: 'You have reached your daily limit.',
        errorType: 'RATE_LIMIT',
        correlationId,
        policyName: 'DAILY',
      };
}

export function objectNotFound(correlationId: string, id: string): HubSpotErrorBody {
  return /^\d+$/.test(id)
    ? errorBody(correlationId, 'OBJECT_NOT_FOUND', 'resource not found')
    : errorBody(correlationId, 'OBJECT_NOT_FOUND', 'Object not found.  objectId are usually numeric.', { id: [id] });
}

export function validationError(correlationId: string, message: string, context?: Record<string, string[]>): HubSpotErrorBody {
  return errorBody(correlationId, 'VALIDATION_ERROR', message, context);
}

const SERVER_ERROR_MESSAGES: Record<number, [string, string]> = {
  423: ['LOCKED', 'The record is locked by another request; wait at least 2 seconds and try again'],
  477: ['MIGRATION_IN_PROGRESS', 'The account is being migrated; try again after the time Retry-After gives'],
  500: ['INTERNAL_ERROR', 'internal error'],
  502: ['BAD_GATEWAY', 'Bad Gateway'],
  503: ['SERVICE_UNAVAILABLE', 'Service Unavailable'],
  504: ['GATEWAY_TIMEOUT', 'Gateway Timeout'],
};

export function serverErrorBody(correlationId: string, status: number): HubSpotErrorBody {
  const [category, message] = SERVER_ERROR_MESSAGES[status] ?? ['INTERNAL_ERROR', 'internal error'];
  return errorBody(correlationId, category, message);
}

/** What an edge proxy in front of an API usually answers for a 5xx: a small HTML page. */
export function serverErrorHtml(status: number): string {
  const [, message] = SERVER_ERROR_MESSAGES[status] ?? ['', 'Server Error'];
  return `<html><head><title>${status} ${message}</title></head><body><center><h1>${status} ${message}</h1></center></body></html>\n`;
}
