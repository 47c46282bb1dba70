import type { HttpAnswer } from './http';

/** A call to a simulator's own endpoints under /__sim/. */
export interface ControlCall {
  /** `METHOD /path`, without a trailing slash: what the endpoints switch on. */
  route: string;
  /** The JSON object sent; {} for an empty body. */
  body: Record<string, unknown>;
}

export function controlError(message: string, status = 400): HttpAnswer {
  return { status, body: { error: message } };
}

/**
 * Answers a control call with `endpoints`, once its body is known to be a JSON object (or empty).
 * An error the endpoint throws answers 400 with its message; a route no endpoint takes (undefined), 404.
 */
export function answerControl(
  method: string,
  path: string,
  rawBody: string,
  endpoints: (call: ControlCall) => HttpAnswer | undefined,
): HttpAnswer {
  let body: Record<string, unknown> = {};
  if (rawBody.trim() !== '') {
    try {
      const parsed: unknown = JSON.parse(rawBody);
      if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) return controlError('the body must be a JSON object');
      body = parsed as Record<string, unknown>;
    } catch (error) {
      return controlError(`malformed JSON: ${(error as Error).message}`);
    }
  }
  const route = `${method} ${path.replace(/\/+$/, '')}`;
  try {
    return endpoints({ route, body }) ?? controlError(`no simulator control endpoint ${route}`, 404);
  } catch (error) {
    return controlError((error as Error).message);
  }
}
