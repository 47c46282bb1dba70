import * as net from 'node:net';
import type { RequestSender, SendRequest } from './http';

interface Pending {
  head: Buffer;
  payload: Buffer;
  done: (status: number, body: string | undefined, error?: Error) => void;
  keepBody: boolean;
  finished: boolean;
  connection?: Connection;
}

const CRLF2 = Buffer.from('\r\n\r\n');

/**
 * One keep-alive socket carrying one request at a time. It reads just enough of each answer to
 * know where it ends (Content-Length or chunked) and what its status is.
 */
class Connection {
  private readonly socket: net.Socket;
  private buffered: Buffer = Buffer.alloc(0);
  private current?: Pending;
  private status = 0;
  /** Where the body starts in `buffered`, once the head has been read. */
  private bodyStart = -1;
  private bodyLength = -1;
  private chunked = false;
  private closeAfter = false;
  alive = true;

  constructor(
    host: string,
    port: number,
    private readonly idle: (connection: Connection) => void,
    private readonly lost: (connection: Connection) => void,
  ) {
    this.socket = net.connect({ host, port, noDelay: true });
    this.socket.on('data', (chunk: Buffer) => this.read(chunk));
    this.socket.on('error', (error) => this.fail(error));
    this.socket.on('close', () => this.fail(new Error('socket closed')));
  }

  get busy(): boolean {
    return this.current !== undefined;
  }

  start(request: Pending): void {
    this.current = request;
    request.connection = this;
    this.status = 0;
    this.bodyStart = -1;
    this.bodyLength = -1;
    this.chunked = false;
    this.closeAfter = false;
    this.socket.write(request.payload.length > 0 ? Buffer.concat([request.head, request.payload]) : request.head);
  }

  destroy(error: Error): void {
    this.socket.destroy();
    this.fail(error);
  }

  private fail(error: Error): void {
    if (!this.alive) return;
    this.alive = false;
    const request = this.current;
    this.current = undefined;
    this.lost(this);
    if (request) finish(request, 0, undefined, error);
  }

  private read(chunk: Buffer): void {
    this.buffered = this.buffered.length === 0 ? chunk : Buffer.concat([this.buffered, chunk]);
    if (!this.current) return;
    if (this.bodyStart < 0 && !this.readHead()) return;
    const end = this.bodyEnd();
    if (end < 0) return;
    const request = this.current;
    const status = this.status;
    const body = request.keepBody ? this.bodyText(end) : undefined;
    this.buffered = this.buffered.subarray(end);
    this.current = undefined;
    finish(request, status, body);
    if (this.closeAfter) this.destroy(new Error('server closed the connection'));
    else this.idle(this);
  }

  private readHead(): boolean {
    const at = this.buffered.indexOf(CRLF2);
    if (at < 0) return false;
    const head = this.buffered.toString('latin1', 0, at);
    this.status = Number(head.slice(9, 12));
    this.bodyStart = at + 4;
    for (const line of head.split('\r\n').slice(1)) {
      const colon = line.indexOf(':');
      const name = line.slice(0, colon).trim().toLowerCase();
      const value = line.slice(colon + 1).trim().toLowerCase();
      if (name === 'content-length') this.bodyLength = Number(value);
      else if (name === 'transfer-encoding' && value.includes('chunked')) this.chunked = true;
      else if (name === 'connection' && value === 'close') this.closeAfter = true;
    }
    if (!this.chunked && this.bodyLength < 0) this.bodyLength = 0;
    return true;
  }

  /** The offset just past the answer's body, or -1 while it is incomplete. */
  private bodyEnd(): number {
    if (!this.chunked) {
      const end = this.bodyStart + this.bodyLength;
      return this.buffered.length >= end ? end : -1;
    }
    let at = this.bodyStart;
    for (;;) {
      const lineEnd = this.buffered.indexOf('\r\n', at);
      if (lineEnd < 0) return -1;
      const size = parseInt(this.buffered.toString('latin1', at, lineEnd), 16);
      if (size === 0) {
        const trailerEnd = this.buffered.indexOf(CRLF2, lineEnd);
        return trailerEnd < 0 ? -1 : trailerEnd + 4;
      }
      at = lineEnd + 2 + size + 2;
      if (this.buffered.length < at) return -1;
    }
  }

  private bodyText(end: number): string {
    if (!this.chunked) return this.buffered.toString('utf8', this.bodyStart, end);
    const parts: Buffer[] = [];
    let at = this.bodyStart;
    for (;;) {
      const lineEnd = this.buffered.indexOf('\r\n', at);
      const size = parseInt(this.buffered.toString('latin1', at, lineEnd), 16);
      if (size === 0) return Buffer.concat(parts).toString('utf8');
      parts.push(this.buffered.subarray(lineEnd + 2, lineEnd + 2 + size));
      at = lineEnd + 2 + size + 2;
    }
  }
}

function finish(request: Pending, status: number, body: string | undefined, error?: Error): void {
  if (request.finished) return;
  request.finished = true;
  request.done(status, body, error);
}

/**
 * The load generator's HTTP/1.1 client: keep-alive sockets written with prebuilt request bytes and
 * read only as far as each answer's framing. node:http spends more CPU per request than the
 * Offload API does on some of them, and the generator shares the machine's two cores with the
 * servers it measures, so its own cost is kept as low as it can be.
 */
export class LoadClient implements RequestSender {
  private readonly host: string;
  private readonly port: number;
  private readonly idle: Connection[] = [];
  private readonly queue: Pending[] = [];
  private open = 0;
  private closed = false;

  constructor(
    baseUrl: string,
    private readonly maxSockets: number,
  ) {
    const url = new URL(baseUrl);
    this.host = url.hostname;
    this.port = Number(url.port);
  }

  send: SendRequest = (method, path, payload, headers, done, keepBody = false) => {
    const body = Buffer.from(payload ?? '', 'utf8');
    let head = `${method} ${path} HTTP/1.1\r\nHost: ${this.host}:${this.port}\r\nConnection: keep-alive\r\n`;
    for (const [name, value] of Object.entries(headers)) head += `${name}: ${value}\r\n`;
    if (payload !== undefined) head += `Content-Type: application/json\r\nContent-Length: ${body.length}\r\n`;
    const request: Pending = { head: Buffer.from(`${head}\r\n`, 'latin1'), payload: body, done, keepBody, finished: false };
    if (this.closed) finish(request, 0, undefined, new Error('client closed'));
    else this.dispatch(request);
    return () => {
      if (request.finished) return;
      if (request.connection) return request.connection.destroy(new Error('timed out'));
      const index = this.queue.indexOf(request);
      if (index >= 0) this.queue.splice(index, 1);
      finish(request, 0, undefined, new Error('timed out'));
    };
  };

  close(): void {
    this.closed = true;
    for (const request of this.queue.splice(0)) finish(request, 0, undefined, new Error('client closed'));
    for (const connection of this.idle.splice(0)) connection.destroy(new Error('client closed'));
  }

  private dispatch(request: Pending): void {
    const connection = this.idle.pop() ?? (this.open < this.maxSockets ? this.connect() : undefined);
    if (connection) connection.start(request);
    else this.queue.push(request);
  }

  private connect(): Connection {
    this.open++;
    return new Connection(
      this.host,
      this.port,
      (connection) => {
        const next = this.queue.shift();
        if (next) connection.start(next);
        else if (this.closed) connection.destroy(new Error('client closed'));
        else this.idle.push(connection);
      },
      (connection) => {
        this.open--;
        const index = this.idle.indexOf(connection);
        if (index >= 0) this.idle.splice(index, 1);
        const next = this.queue.shift();
        if (next && !this.closed) this.dispatch(next);
        else if (next) finish(next, 0, undefined, new Error('client closed'));
      },
    );
  }
}
