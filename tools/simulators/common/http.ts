import { createServer, IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/** An answer to write: a string body goes as it is, anything else as JSON; none for a 204. */
export interface HttpAnswer {
  status: number;
  body?: unknown;
  headers?: Record<string, string>;
}

/** What a request whose handling threw is answered with (a 500), in the simulated API's own error shape. */
export interface InternalErrorAnswer {
  contentType: string;
  body: unknown;
}

/** Request bodies are cut off beyond this; no simulated API takes anything near it. */
export const MAX_BODY_BYTES = 10 * 1024 * 1024;

/** The HTTP server of a simulator: listens, knows its URL and closes with every connection it holds. */
export class SimulatorServer {
  private server: Server | null = null;
  private address = '';

  constructor(
    private readonly handle: (req: IncomingMessage, res: ServerResponse) => Promise<void>,
    private readonly internalError: (error: Error) => InternalErrorAnswer,
  ) {}

  async listen(port: number, host: string): Promise<void> {
    const server = createServer({ keepAliveTimeout: 65_000, requestTimeout: 0 }, (req, res) => {
      this.handle(req, res).catch((error: Error) => {
        if (res.headersSent || res.destroyed) return;
        const answer = this.internalError(error);
        res.writeHead(500, { 'Content-Type': answer.contentType });
        res.end(JSON.stringify(answer.body));
      });
    });
    server.headersTimeout = 66_000;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => {
        server.off('error', reject);
        resolve();
      });
    });
    this.server = server;
    const address = server.address() as AddressInfo;
    this.address = `http://${address.family === 'IPv6' ? `[${address.address}]` : address.address}:${address.port}`;
  }

  /** `http://host:port` once listening, '' before. */
  get url(): string {
    return this.address;
  }

  /** The port listened on; 0 when not listening. */
  get port(): number {
    return this.server ? (this.server.address() as AddressInfo).port : 0;
  }

  async close(): Promise<void> {
    const server = this.server;
    if (!server) return;
    this.server = null;
    await new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    });
  }
}

/** The request body as text: at most MAX_BODY_BYTES of it, what arrived if the client went away, '' on a request error. */
export function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size <= MAX_BODY_BYTES) chunks.push(chunk);
    });
    req.on('end', () => resolve(chunks.length === 1 ? chunks[0].toString('utf8') : Buffer.concat(chunks).toString('utf8')));
    req.on('error', () => resolve(''));
    req.on('close', () => resolve(Buffer.concat(chunks).toString('utf8')));
  });
}

/** Writes an answer with Content-Type `contentType` (unless its headers name another), unless the connection is gone. */
export function sendAnswer(res: ServerResponse, answer: HttpAnswer, contentType: string): void {
  if (res.destroyed || res.writableEnded) return;
  const headers = answer.headers ?? {};
  if (answer.status === 204 || answer.body === undefined) {
    res.writeHead(answer.status, headers);
    res.end();
    return;
  }
  const payload = typeof answer.body === 'string' ? answer.body : JSON.stringify(answer.body);
  res.writeHead(answer.status, { 'Content-Type': contentType, ...headers, 'Content-Length': Buffer.byteLength(payload) });
  res.end(payload);
}

/**
 * Holds the call for `ms`, then drops the connection without an answer, as a timed-out call sees it.
 * Answers who closed the connection: the client (it gave up first) or the server.
 */
export function hangUp(req: IncomingMessage, res: ServerResponse, ms: number): Promise<'server' | 'client'> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      req.socket.destroy();
      resolve('server');
    }, ms);
    timer.unref();
    res.once('close', () => {
      clearTimeout(timer);
      resolve('client');
    });
  });
}
