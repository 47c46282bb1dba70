import { createServer, Server } from 'node:http';
import { AddressInfo } from 'node:net';
import { JobFailure } from '../registry/job-handler';
import { egressHttp, egressOrigins } from './egress-http';

describe('egressHttp', () => {
  let allowedServer: Server;
  let otherServer: Server;
  let allowedUrl: string;
  let otherUrl: string;
  const otherHits: string[] = [];

  beforeAll(async () => {
    otherServer = createServer((request, response) => {
      otherHits.push(request.url!);
      response.end('other');
    });
    allowedServer = createServer((request, response) => {
      if (request.url === '/redirect-out') {
        response.writeHead(302, { location: `${otherUrl}/stolen` }).end();
      } else if (request.url === '/redirect-in') {
        response.writeHead(302, { location: '/final' }).end();
      } else if (request.url === '/slow') {
        setTimeout(() => response.end('late'), 2_000);
      } else {
        response.end(`ok ${request.url}`);
      }
    });
    await Promise.all([allowedServer, otherServer].map((server) => new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))));
    allowedUrl = `http://127.0.0.1:${(allowedServer.address() as AddressInfo).port}`;
    otherUrl = `http://127.0.0.1:${(otherServer.address() as AddressInfo).port}`;
  });

  afterAll(() => {
    allowedServer.closeAllConnections();
    allowedServer.close();
    otherServer.close();
  });

  const http = () => egressHttp(egressOrigins([`${allowedUrl}/v5/`]), new AbortController().signal);

  it('calls an allowed origin', async () => {
    const response = await http().fetch(`${allowedUrl}/v5/company/enrich`);
    expect(await response.text()).toBe('ok /v5/company/enrich');
  });

  it('refuses any other origin, including another port of the same host, before sending anything', async () => {
    await expect(http().fetch(`${otherUrl}/x`)).rejects.toMatchObject({ code: 'egress_denied', retryable: false });
    await expect(http().fetch('file:///etc/passwd')).rejects.toBeInstanceOf(JobFailure);
    await expect(http().fetch('not a url')).rejects.toMatchObject({ code: 'egress_denied' });
    expect(otherHits).toEqual([]);
  });

  it('follows redirects within the allowed origins and refuses one that leaves them', async () => {
    expect(await (await http().fetch(`${allowedUrl}/redirect-in`)).text()).toBe('ok /final');
    await expect(http().fetch(`${allowedUrl}/redirect-out`)).rejects.toMatchObject({ code: 'egress_denied' });
    expect(otherHits).toEqual([]);
  });

  it('gives up after its timeout, and when the job stops', async () => {
    await expect(http().fetch(`${allowedUrl}/slow`, { timeoutMs: 100 })).rejects.toMatchObject({ name: 'TimeoutError' });
    const job = new AbortController();
    const pending = egressHttp(egressOrigins([allowedUrl]), job.signal).fetch(`${allowedUrl}/slow`);
    job.abort('cancelled');
    await expect(pending).rejects.toBe('cancelled');
  });
});
