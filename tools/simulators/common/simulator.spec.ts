import { answerControl, controlError, hangUp, MAX_BODY_BYTES, readBody, readFlags, sendAnswer, SimulatorServer, usageText } from '.';
import type { CliOption } from '.';

describe('simulator plumbing', () => {
  describe('command line', () => {
    const options: CliOption[] = [
      { flag: '--port', value: 'N', help: 'port to listen on' },
      { flag: '--verbose', help: 'say more' },
    ];
    const read = (argv: string[]) => {
      const seen: [string, string][] = [];
      readFlags(options, argv, (flag, value) => seen.push([flag, value]));
      return seen;
    };

    it('takes values after the flag or after =, and switches with an empty value, in order', () => {
      expect(read(['--port', '1', '--verbose', '--port=a=b'])).toEqual([
        ['--port', '1'],
        ['--verbose', ''],
        ['--port', 'a=b'],
      ]);
    });

    it('refuses an unknown flag and a missing value, after handing over the flags before them', () => {
      const seen: string[] = [];
      expect(() => readFlags(options, ['--verbose', '--nope', '--port'], (flag) => seen.push(flag))).toThrow('unknown option --nope (see --help)');
      expect(seen).toEqual(['--verbose']);
      expect(() => read(['--port'])).toThrow('--port needs a value');
    });

    it('lays out the help with the flags in one column', () => {
      const text = usageText({ script: 'sim:test', about: ['A test simulator.'], options, footer: ['See README.md.'] });
      expect(text).toBe(
        ['Usage: npm run sim:test -- [options]', '', 'A test simulator.', '', 'Options:', '  --port N   port to listen on', '  --verbose  say more', '', 'See README.md.'].join('\n'),
      );
    });
  });

  describe('control endpoints', () => {
    const echo = (rawBody: string, path = '/__sim/echo/') =>
      answerControl('POST', path, rawBody, ({ route, body }) => (route === 'POST /__sim/echo' ? { status: 200, body } : undefined));

    it('hands the route without its trailing slash and the body, {} when empty', () => {
      expect(echo('{"a":1}')).toEqual({ status: 200, body: { a: 1 } });
      expect(echo('  ')).toEqual({ status: 200, body: {} });
    });

    it('answers 400 to a body that is not a JSON object and 404 to a route nobody takes', () => {
      expect(echo('[1]')).toEqual(controlError('the body must be a JSON object'));
      expect(echo('{nope').status).toBe(400);
      expect((echo('{nope').body as { error: string }).error).toMatch(/^malformed JSON: /);
      expect(echo('{}', '/__sim/other')).toEqual({ status: 404, body: { error: 'no simulator control endpoint POST /__sim/other' } });
    });

    it('answers 400 with the message of an error an endpoint throws', () => {
      const answer = answerControl('GET', '/__sim/x', '', () => {
        throw new Error('count must be a number');
      });
      expect(answer).toEqual({ status: 400, body: { error: 'count must be a number' } });
    });
  });

  describe('HTTP server', () => {
    let server: SimulatorServer;

    beforeEach(async () => {
      server = new SimulatorServer(
        async (req, res) => {
          const body = await readBody(req);
          if (req.url === '/throw') throw new Error('broken');
          if (req.url === '/hang') return void (await hangUp(req, res, 20));
          if (req.url === '/empty') return sendAnswer(res, { status: 204, body: 'ignored' }, 'application/json');
          if (req.url === '/text') return sendAnswer(res, { status: 200, body: 'as is', headers: { 'Content-Type': 'text/plain' } }, 'application/json');
          sendAnswer(res, { status: 200, body: { length: body.length }, headers: { 'X-Extra': 'yes' } }, 'application/json');
        },
        (error) => ({ contentType: 'application/problem+json', body: { failed: error.message } }),
      );
      await server.listen(0, '127.0.0.1');
    });

    afterEach(() => server.close());

    it('knows its URL and port while it listens, and closes once however often asked', async () => {
      expect(server.url).toBe(`http://127.0.0.1:${server.port}`);
      expect(server.port).toBeGreaterThan(0);
      await server.close();
      await server.close();
      expect(server.port).toBe(0);
    });

    it('sends JSON with its length and extra headers, strings as they are, and no body with a 204', async () => {
      const json = await fetch(`${server.url}/json`, { method: 'POST', body: 'abc' });
      expect(json.headers.get('content-type')).toBe('application/json');
      expect(json.headers.get('x-extra')).toBe('yes');
      expect(await json.json()).toEqual({ length: 3 });
      const text = await fetch(`${server.url}/text`);
      expect(text.headers.get('content-type')).toBe('text/plain');
      expect(await text.text()).toBe('as is');
      const empty = await fetch(`${server.url}/empty`);
      expect(empty.status).toBe(204);
      expect(await empty.text()).toBe('');
    });

    it('reads at most MAX_BODY_BYTES of a body', async () => {
      const response = await fetch(`${server.url}/json`, { method: 'POST', body: 'a'.repeat(MAX_BODY_BYTES + 1) });
      const { length } = (await response.json()) as { length: number };
      expect(length).toBeLessThanOrEqual(MAX_BODY_BYTES);
      expect(length).toBeGreaterThan(0);
    });

    it('answers 500 with the error answer when handling throws', async () => {
      const response = await fetch(`${server.url}/throw`);
      expect(response.status).toBe(500);
      expect(response.headers.get('content-type')).toBe('application/problem+json');
      expect(await response.json()).toEqual({ failed: 'broken' });
    });

    it('drops a hung call without an answer', async () => {
      await expect(fetch(`${server.url}/hang`)).rejects.toThrow();
    });
  });
});
