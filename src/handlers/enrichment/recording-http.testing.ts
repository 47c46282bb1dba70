import type { EgressHttp } from '../../registry/job-handler';

/** A request as a provider sent it through a job's HTTP client. */
export interface SentRequest {
  method: string;
  url: URL;
  headers: Headers;
  /** The JSON body, parsed; undefined when none was sent. */
  body: unknown;
}

/** A job's HTTP client for providers' unit tests: answers every request with `answer`, in memory, and keeps what was sent. */
export function recordingHttp(answer: (request: SentRequest) => Response | Promise<Response>): { http: EgressHttp; sent: SentRequest[] } {
  const sent: SentRequest[] = [];
  const http: EgressHttp = {
    async fetch(url, init = {}) {
      const request = { method: init.method ?? 'GET', url: new URL(url), headers: new Headers(init.headers), body: init.body ? JSON.parse(String(init.body)) : undefined };
      sent.push(request);
      return answer(request);
    },
  };
  return { http, sent };
}

export function jsonResponse(status: number, body: unknown, headers: Record<string, string> = {}): Response {
  return new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json', ...headers } });
}
