import * as http from 'node:http';

export interface HttpAnswer<T = any> {
  status: number;
  body: T;
}

/**
 * Sends one request; `done` gets the status (0 on a transport error) and, when `keepBody`, the
 * body text. Answers a function that aborts the request.
 */
export type SendRequest = (
  method: string,
  path: string,
  payload: string | undefined,
  headers: Record<string, string>,
  done: (status: number, body: string | undefined, error?: Error) => void,
  keepBody?: boolean,
) => () => void;

/** What the open-loop generator sends requests with. */
export interface RequestSender {
  send: SendRequest;
  close(): void;
}

/**
 * A keep-alive HTTP/1.1 client on node:http for the control calls and the batch enqueues of the
 * end-to-end runs. One connection pool, a bounded number of sockets: requests beyond it wait in the
 * pool's queue.
 */
export class HttpClient implements RequestSender {
  private readonly pool: http.Agent;
  private readonly host: string;
  private readonly port: number;

  constructor(
    readonly baseUrl: string,
    maxSockets = 16,
  ) {
    const url = new URL(baseUrl);
    this.host = url.hostname;
    this.port = Number(url.port);
    this.pool = new http.Agent({ keepAlive: true, maxSockets, maxFreeSockets: maxSockets, scheduling: 'fifo' });
  }

  send: SendRequest = (method, path, payload, headers, done, keepBody = false) => {
    let finished = false;
    const finish = (status: number, body: string | undefined, error?: Error) => {
      if (finished) return;
      finished = true;
      done(status, body, error);
    };
    const req = http.request(
      {
        host: this.host,
        port: this.port,
        method,
        path,
        agent: this.pool,
        headers: payload === undefined ? headers : { ...headers, 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) },
      },
      (res) => {
        const chunks: Buffer[] = [];
        if (keepBody) res.on('data', (chunk: Buffer) => chunks.push(chunk));
        else res.resume();
        res.on('end', () => finish(res.statusCode ?? 0, keepBody ? Buffer.concat(chunks).toString('utf8') : undefined));
        res.on('error', (error) => finish(0, undefined, error));
      },
    );
    req.on('error', (error) => finish(0, undefined, error));
    req.end(payload);
    return () => {
      if (!finished) req.destroy(new Error('timed out'));
    };
  };

  /** A JSON request for control calls (admin, health): the whole answer, parsed when it is JSON. */
  json<T = any>(method: string, path: string, body?: unknown, token?: string, timeoutMs = 30_000): Promise<HttpAnswer<T>> {
    return new Promise((resolve, reject) => {
      const headers: Record<string, string> = token ? { authorization: `Bearer ${token}` } : {};
      const abort = this.send(
        method,
        path,
        body === undefined ? undefined : JSON.stringify(body),
        headers,
        (status, text, error) => {
          clearTimeout(timer);
          if (error) return reject(error);
          let parsed: unknown = text;
          try {
            parsed = text ? JSON.parse(text) : undefined;
          } catch {
            // not JSON: keep the text
          }
          resolve({ status, body: parsed as T });
        },
        true,
      );
      const timer = setTimeout(abort, timeoutMs);
    });
  }

  close(): void {
    this.pool.destroy();
  }
}
