import * as http from 'node:http';
import { AddressInfo } from 'node:net';
import { LoadClient } from '../tools/bench/load-client';

type Answer = { status: number; body?: string; error?: Error };

describe("the benchmark generator's HTTP client", () => {
  let server: http.Server;
  let baseUrl: string;
  const seen: Array<{ method?: string; url?: string; body: string; auth?: string }> = [];

  beforeAll(async () => {
    server = http.createServer((req, res) => {
      let body = '';
      req.on('data', (chunk) => (body += chunk));
      req.on('end', () => {
        seen.push({ method: req.method, url: req.url, body, auth: req.headers.authorization });
        if (req.url === '/chunked') {
          res.writeHead(201, { 'content-type': 'application/json' });
          res.write('{"part":');
          setTimeout(() => res.end('"two"}'), 5);
        } else if (req.url === '/close') {
          res.writeHead(200, { connection: 'close', 'content-length': '2' });
          res.end('ok');
        } else if (req.url === '/hang') {
          // never answered
        } else {
          const text = JSON.stringify({ echo: body });
          res.writeHead(202, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
          res.end(text);
        }
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });

  afterAll(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });

  const send = (client: LoadClient, path: string, payload?: string, timeoutMs = 5_000) =>
    new Promise<Answer>((resolve) => {
      const abort = client.send('POST', path, payload, { authorization: 'Bearer k' }, (status, body, error) => resolve({ status, body, error }), true);
      setTimeout(abort, timeoutMs);
    });

  it('reads statuses and bodies framed by Content-Length or chunked, over fewer sockets than requests', async () => {
    const client = new LoadClient(baseUrl, 2);
    try {
      const answers = await Promise.all(Array.from({ length: 10 }, (_, i) => send(client, '/len', `{"i":${i}}`)));
      answers.forEach((answer, i) => expect(answer).toEqual({ status: 202, body: JSON.stringify({ echo: `{"i":${i}}` }), error: undefined }));
      expect(await send(client, '/chunked')).toEqual({ status: 201, body: '{"part":"two"}', error: undefined });
      expect(seen.at(-1)).toEqual({ method: 'POST', url: '/chunked', body: '', auth: 'Bearer k' });
    } finally {
      client.close();
    }
  });

  it('opens a new socket after the server closes one, and fails a request that times out', async () => {
    const client = new LoadClient(baseUrl, 1);
    try {
      expect((await send(client, '/close')).status).toBe(200);
      expect((await send(client, '/len', '{}')).status).toBe(202);
      const hung = await send(client, '/hang', '{}', 100);
      expect(hung.status).toBe(0);
      expect(hung.error?.message).toBe('timed out');
      expect((await send(client, '/len', '{}')).status).toBe(202);
    } finally {
      client.close();
    }
  });
});
