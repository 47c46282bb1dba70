import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { checkHandlerClasses, HandlerRegistry } from '../../src/registry/handler-registry';
import { testJobContext } from '../../src/registry/job-context.testing';
import { declarationOf, JobHandler } from '../../src/registry/job-handler';
import { NewHandlerError, scaffoldHandler } from './new-handler';

describe('scaffoldHandler', () => {
  let project: string;
  let handlers: string;

  beforeEach(() => {
    // A project of its own whose src/registry is this one, so the generated files compile against the real API.
    project = mkdtempSync(join(tmpdir(), 'offload-new-handler-'));
    mkdirSync(join(project, 'src'));
    symlinkSync(join(__dirname, '..', '..', 'src', 'registry'), join(project, 'src', 'registry'));
    symlinkSync(join(__dirname, '..', '..', 'node_modules'), join(project, 'node_modules'));
    handlers = join(project, 'src', 'handlers');
  });

  afterEach(() => rmSync(project, { recursive: true, force: true }));

  it('writes a handler that the registry accepts and whose outputs keep its declaration', async () => {
    const files = scaffoldHandler('domain-check', handlers);
    expect(files.map((file) => file.slice(handlers.length + 1))).toEqual([
      'domain-check/domain-check.handler.ts',
      'domain-check/domain-check.handler.spec.ts',
      'domain-check/README.md',
    ]);
    const exported: Record<string, unknown> = require(files[0]);
    const handlerClass = exported.DomainCheckHandler as new () => JobHandler;
    expect(checkHandlerClasses([handlerClass]).map((d) => d.type)).toEqual(['domain-check']);
    expect(declarationOf(handlerClass)?.outputs).toHaveProperty('domain_check_result');

    const handler = new handlerClass();
    const output = await handler.run(testJobContext({ input: { domain: 'Acme.com', note: 'vip' } }));
    expect(output).toEqual({ domain_check_result: 'acme.com: vip', domain_check_ok: true });
    expect(new HandlerRegistry([handler]).checkOutputs('domain-check', output)).toEqual([]);
    await expect(handler.run(testJobContext({ input: { domain: 'localhost' } }))).rejects.toMatchObject({
      code: 'domain_check_invalid_domain',
      retryable: false,
    });
    expect(readFileSync(files[2], 'utf8')).toContain('npm run stub -- domain-check');
  });

  it('refuses a name that is not a job type, and a type that already has a folder', () => {
    expect(() => scaffoldHandler('Domain_Check', handlers)).toThrow(NewHandlerError);
    expect(() => scaffoldHandler('9lives', handlers)).toThrow(/not a job type/);
    scaffoldHandler('taken', handlers);
    expect(() => scaffoldHandler('taken', handlers)).toThrow(/already exists/);
  });
});
