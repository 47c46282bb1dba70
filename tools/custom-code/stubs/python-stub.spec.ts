import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, IncomingMessage, Server } from 'node:http';
import { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { routingDeclaration, scoringDeclaration } from '../../../test/support/stub-declarations';
import { runStub } from '../runtime/stub-runtime';
import { generateStub } from './generate-stub';
import { StubLanguage } from './stub-spec';

interface Received {
  method: string;
  url: string;
  authorization?: string;
  body: unknown;
}

async function bodyOf(request: IncomingMessage): Promise<unknown> {
  let text = '';
  for await (const chunk of request) text += chunk;
  return text ? JSON.parse(text) : undefined;
}

/** The Python stub must do exactly what the JavaScript one does: same requests, same outputs. */
describe('the Python stub, beside the JavaScript one', () => {
  let folder: string;
  let server: Server;
  let url: string;
  const received: Received[] = [];

  beforeAll(async () => {
    folder = mkdtempSync(join(tmpdir(), 'python-stub-spec-'));
    for (const language of ['js', 'python'] as StubLanguage[]) {
      for (const declaration of [scoringDeclaration, routingDeclaration]) {
        const stub = generateStub(declaration, language, 'enqueue');
        writeFileSync(join(folder, stub.fileName), stub.code);
      }
    }
    server = createServer(async (request, response) => {
      received.push({ method: request.method!, url: request.url!, authorization: request.headers.authorization, body: await bodyOf(request) });
      response.writeHead(202, { 'content-type': 'application/json' }).end(JSON.stringify({ id: 'job-1', status: 'queued' }));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });

  afterAll(async () => {
    await new Promise((resolve) => server.close(resolve));
    rmSync(folder, { recursive: true, force: true });
  });

  async function runBoth(inputFields: Record<string, unknown>, type = 'scoring') {
    const event = { origin: { portalId: 62515 }, object: { objectType: 'COMPANY', objectId: '7781' }, inputFields, callbackId: 'ap-62515-9-9-1' };
    const secrets = { OFFLOAD_URL: url, OFFLOAD_API_KEY: 'key-2' };
    received.length = 0;
    const js = await runStub({ file: join(folder, `${type}.enqueue.js`), event, secrets });
    const sentByJs = received.splice(0);
    const python = await runStub({ file: join(folder, `${type}.enqueue.py`), event, secrets });
    return { js, python, sentByJs, sentByPython: received.splice(0) };
  }

  it('sends the same request for the same event', async () => {
    const { js, python, sentByJs, sentByPython } = await runBoth({
      count: '12',
      ratio: ' 1e1 ',
      active: 'False',
      tags: '{"a": [1, 2.5]}',
      label: true,
      tier: 'silver',
      anything: 'x',
    });
    expect(sentByJs).toEqual([
      {
        method: 'POST',
        url: '/v1/jobs',
        authorization: 'Bearer key-2',
        body: {
          type: 'scoring',
          input: { count: 12, ratio: 10, active: false, tags: { a: [1, 2.5] }, label: 'true', tier: 'silver', anything: 'x' },
          idempotencyKey: 'hs:62515:company:7781:scoring:ap-62515-9-9-1',
          callbackId: 'ap-62515-9-9-1',
          object: { type: 'COMPANY', id: '7781' },
        },
      },
    ]);
    expect(sentByPython).toEqual(sentByJs);
    expect(python.outputFields).toEqual(js.outputFields);
    expect(js.outputFields).toMatchObject({ job_id: 'job-1', job_status: 'pending', offload_error: '' });
  });

  it.each([
    [{ count: '' }, 'missing required input "count"'],
    [{ count: '3.5' }, 'input "count" must be a whole number, not "3.5"'],
    [{ count: '1_000' }, 'input "count" must be a whole number, not "1_000"'],
    [{ count: 'nan' }, 'input "count" must be a whole number, not "nan"'],
    [{ count: '1', active: 'maybe' }, 'input "active" must be true or false, not "maybe"'],
  ])('fails the same way, without a request, on inputs %j', async (inputFields, reason) => {
    const { js, python, sentByJs, sentByPython } = await runBoth(inputFields);
    expect(js.outputFields).toMatchObject({ job_status: 'error', offload_error: reason });
    expect(python.outputFields).toEqual(js.outputFields);
    expect([...sentByJs, ...sentByPython]).toEqual([]);
  });

  it('passes on every property a handler that takes properties by name gets, as HubSpot gives them', async () => {
    const { sentByJs, sentByPython } = await runBoth({ country: 'Germany', numberofemployees: '250', state: '', industry: null }, 'routing');
    expect(sentByJs.map((request) => (request.body as { input: unknown }).input)).toEqual([{ country: 'Germany', numberofemployees: '250' }]);
    expect(sentByPython).toEqual(sentByJs);
  });
});
