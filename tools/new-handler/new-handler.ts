import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { TYPE_PATTERN } from '../../src/registry/handler-registry';

export class NewHandlerError extends Error {}

/** `lead-scoring` -> `LeadScoring`. */
function className(type: string): string {
  return type
    .split('-')
    .filter(Boolean)
    .map((part) => part[0].toUpperCase() + part.slice(1))
    .join('');
}

/** The names a new handler's files use: `lead-scoring` -> LeadScoring, leadScoring, lead_scoring. */
function namesOf(type: string) {
  const pascal = className(type);
  return { pascal, camel: pascal[0].toLowerCase() + pascal.slice(1), snake: type.replace(/-/g, '_') };
}

function handlerSource(type: string): string {
  const { pascal, camel, snake } = namesOf(type);
  return `import { Type } from '@sinclair/typebox';
import { HandlerDeclaration, InputOf, JobContext, JobFailure, JobHandler, JobHandlerOf } from '../../registry/job-handler';

export const ${camel}Declaration = {
  type: '${type}',
  version: '1.0.0',
  owner: 'your-team',
  description: 'What this job does for a workflow, in one sentence.',
  input: Type.Object(
    {
      domain: Type.String({ minLength: 1, maxLength: 253, description: 'The company domain to work on' }),
      note: Type.Optional(Type.String({ maxLength: 1_000, description: 'An optional input: default it in run()' })),
    },
    { additionalProperties: false },
  ),
  outputs: {
    ${snake}_result: { hubspotType: 'string', description: 'What the workflow reads when the job succeeds' },
    ${snake}_ok: { hubspotType: 'bool', description: 'Whether the work found something' },
  },
  timeoutMs: 30_000,
  retry: { attempts: 3, backoffMs: 1_000, maxBackoffMs: 30_000 },
  concurrency: 16,
} satisfies HandlerDeclaration;

type ${pascal}Input = InputOf<typeof ${camel}Declaration>;
type ${pascal}Output = { ${snake}_result: string; ${snake}_ok: boolean };

/**
 * Replace the body of run() with the work. Throw JobFailure to fail on purpose (retryable: true
 * for what a later run may fix); docs/handlers.md describes the context (config, settings, secrets,
 * http, hubspot) and the rules.
 */
@JobHandlerOf(${camel}Declaration)
export class ${pascal}Handler implements JobHandler<${pascal}Input, ${pascal}Output> {
  async run({ input }: JobContext<${pascal}Input>): Promise<${pascal}Output> {
    const domain = input.domain.trim().toLowerCase();
    if (!domain.includes('.')) {
      throw new JobFailure('${snake}_invalid_domain', \`"\${input.domain}" is not a domain\`, { retryable: false });
    }
    return { ${snake}_result: input.note ? \`\${domain}: \${input.note}\` : domain, ${snake}_ok: true };
  }
}
`;
}

function specSource(type: string): string {
  const { pascal, snake } = namesOf(type);
  return `import { HandlerRegistry } from '../../registry/handler-registry';
import { testJobContext } from '../../registry/job-context.testing';
import { ${pascal}Handler } from './${type}.handler';

describe('${pascal}Handler', () => {
  const handler = new ${pascal}Handler();
  const registry = new HandlerRegistry([handler]);

  it('answers outputs that keep the declaration', async () => {
    const output = await handler.run(testJobContext({ input: { domain: ' Example.COM ' } }));
    expect(output).toEqual({ ${snake}_result: 'example.com', ${snake}_ok: true });
    expect(registry.checkOutputs('${type}', output)).toEqual([]);
  });

  it('fails without a retry on input a retry cannot fix', async () => {
    await expect(handler.run(testJobContext({ input: { domain: 'localhost' } }))).rejects.toMatchObject({ retryable: false });
  });
});
`;
}

function readmeSource(type: string): string {
  const { snake } = namesOf(type);
  const upper = snake.toUpperCase();
  return `# \`${type}\`

What it does for a workflow, and for whom (owner: your-team).

- **Input**: \`domain\` (required), \`note\` (optional). \`GET /v1/handlers\` publishes the schema.
- **Outputs**: \`${snake}_result\` (string), \`${snake}_ok\` (bool). Renaming one breaks every workflow
  that reads it: add outputs instead, and run \`npm run outputs:check -- --update\` after any change.
- **Failures**: which are retried (an outage, a 429) and which fail at once (bad input).
- **Settings and secrets**: what a portal sets (\`PUT /v1/admin/portals/:id/handlers/${type}/config\`,
  \`PUT /v1/admin/portals/:id/secrets/NAME\`) and what the deployment sets (the \`${upper}_*\`
  environment variables the declaration's \`settings\` lists, with their defaults), if anything.
- **In a workflow**: \`npm run stub -- ${type}\` prints the custom code action and the fields to declare.
`;
}

/** Writes src/handlers/<type>/ with a handler, its test and its doc; answers the files written. */
export function scaffoldHandler(type: string, handlersRoot: string): string[] {
  if (!TYPE_PATTERN.test(type)) {
    throw new NewHandlerError(`"${type}" is not a job type: use lower-case letters, digits and "-", starting with a letter (at most 63)`);
  }
  const folder = join(handlersRoot, type);
  if (existsSync(folder)) throw new NewHandlerError(`${folder} already exists: a job type is permanent, pick another name`);
  mkdirSync(folder, { recursive: true });
  const files: Array<[string, string]> = [
    [`${type}.handler.ts`, handlerSource(type)],
    [`${type}.handler.spec.ts`, specSource(type)],
    ['README.md', readmeSource(type)],
  ];
  for (const [file, source] of files) writeFileSync(join(folder, file), source, { flag: 'wx' });
  return files.map(([file]) => join(folder, file));
}
