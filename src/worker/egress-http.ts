import { EgressHttp, JobFailure } from '../registry/job-handler';

const DEFAULT_TIMEOUT_MS = 10_000;
const MAX_REDIRECTS = 5;

/**
 * fetch for a handler, limited to the origins its declaration names: a URL that came from a job's
 * input can never send a request elsewhere, not even through a redirect. Requests end with the job
 * (its signal) and after their own timeout.
 */
export function egressHttp(allowedOrigins: ReadonlySet<string>, jobSignal: AbortSignal): EgressHttp {
  return {
    async fetch(url, init = {}) {
      const { timeoutMs = DEFAULT_TIMEOUT_MS, ...request } = init;
      const signal = AbortSignal.any([jobSignal, AbortSignal.timeout(timeoutMs), ...(request.signal ? [request.signal] : [])]);
      let target = allowed(url, allowedOrigins);
      for (let hop = 0; ; hop++) {
        const response = await fetch(target, { ...request, signal, redirect: 'manual' });
        const location = response.headers.get('location');
        if (response.status < 300 || response.status >= 400 || !location) return response;
        if (hop === MAX_REDIRECTS) throw new JobFailure('egress_denied', `More than ${MAX_REDIRECTS} redirects from ${target.origin}`, { retryable: false });
        await response.body?.cancel();
        target = allowed(new URL(location, target), allowedOrigins);
      }
    },
  };
}

function allowed(url: string | URL, origins: ReadonlySet<string>): URL {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new JobFailure('egress_denied', `Not a URL: ${String(url).slice(0, 200)}`, { retryable: false });
  }
  if (!origins.has(parsed.origin)) {
    throw new JobFailure('egress_denied', `This handler may not call ${parsed.origin}; it may call ${[...origins].join(', ') || 'no host'}`, {
      retryable: false,
    });
  }
  return parsed;
}

/** The origins a handler's declaration allows, each as URL.origin spells it. */
export function egressOrigins(urls: string[]): Set<string> {
  return new Set(urls.map((url) => new URL(url).origin));
}
