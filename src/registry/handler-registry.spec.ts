import { Type } from '@sinclair/typebox';
import { NoopHandler } from '../handlers/noop/noop.handler';
import { discoverHandlerClasses } from './handler-discovery';
import { HandlerRegistry } from './handler-registry';
import { HandlerDeclaration, JobHandlerOf } from './job-handler';

function handlerWith(overrides: Partial<HandlerDeclaration>) {
  @JobHandlerOf({
    type: 'sample',
    version: '1.0.0',
    owner: 'team',
    description: 'a sample',
    input: Type.Object({ n: Type.Integer() }),
    outputs: {
      label: { hubspotType: 'string', description: 'a label' },
      tier: { hubspotType: 'enumeration', description: 'a tier', options: ['A', 'B'] },
      day: { hubspotType: 'date', description: 'a day', optional: true },
    },
    ...overrides,
  })
  class Sample {
    async run() {
      return {};
    }
  }
  return new Sample();
}

describe('HandlerRegistry', () => {
  it('discovers the handlers shipped in src/handlers', () => {
    expect(discoverHandlerClasses()).toContain(NoopHandler);
  });

  it('registers a sound handler with defaults filled in', () => {
    const registry = new HandlerRegistry([handlerWith({})]);
    expect(registry.get('sample')).toMatchObject({
      type: 'sample',
      timeoutMs: 60_000,
      retry: { attempts: 3, backoffMs: 1000, maxBackoffMs: 60_000 },
    });
    expect(registry.list().map((h) => h.type)).toEqual(['sample']);
  });

  it('refuses a duplicate job type', () => {
    expect(() => new HandlerRegistry([handlerWith({}), handlerWith({})])).toThrow(/declared twice/);
  });

  it.each([
    [{ type: 'Bad Type' }, /type must be/],
    [{ version: 'one' }, /version must be/],
    [{ owner: '' }, /owner is required/],
    [{ input: { type: 'string' } as never }, /JSON Schema of type object/],
    [{ input: { type: 'object', properties: { a: { type: 'nope' } } } as never }, /not a valid JSON Schema/],
    [{ outputs: { BadName: { hubspotType: 'string', description: 'x' } } }, /must be snake_case/],
    [{ outputs: { a: { hubspotType: 'text' as never, description: 'x' } } }, /hubspotType "text"/],
    [{ outputs: { a: { hubspotType: 'enumeration', description: 'x' } } }, /needs its options/],
    [{ timeoutMs: 0 }, /timeoutMs must be/],
    [{ retry: { attempts: 0 } }, /retry.attempts must be/],
  ])('refuses a malformed declaration %j', (overrides, message) => {
    expect(() => new HandlerRegistry([handlerWith(overrides as Partial<HandlerDeclaration>)])).toThrow(message);
  });

  it('validates input with dotted paths', () => {
    const handler = new HandlerRegistry([handlerWith({})]).get('sample')!;
    expect(handler.validateInput({ n: 'x' }, 'input')).toEqual([{ path: 'input.n', message: 'must be integer' }]);
    expect(handler.validateInput({ n: 2 }, 'input')).toEqual([]);
  });

  describe('portal settings', () => {
    const range = {
      schema: Type.Object({ low: Type.Integer(), high: Type.Integer() }, { additionalProperties: false }),
      default: { low: 1, high: 5 },
      check: (config: unknown) => {
        const { low, high } = config as { low: number; high: number };
        return low < high ? [] : [{ path: 'high', message: `must be above low (${low})` }];
      },
    };

    it('checks the schema first, then the declaration’s own check, with the caller’s path prefix', () => {
      const check = jest.fn(range.check);
      const { validate } = new HandlerRegistry([handlerWith({ config: { ...range, check } })]).get('sample')!.config!;
      expect(check).toHaveBeenCalledWith(range.default);
      check.mockClear();
      expect(validate({ low: 'x', high: 5 })).toEqual([{ path: 'low', message: 'must be integer' }]);
      expect(check).not.toHaveBeenCalled();
      expect(validate({ low: 5, high: 5 })).toEqual([{ path: 'high', message: 'must be above low (5)' }]);
      expect(validate({ low: 5, high: 5 }, 'config')).toEqual([{ path: 'config.high', message: 'must be above low (5)' }]);
      expect(validate({ low: 1, high: 2 })).toEqual([]);
    });

    it('refuses at boot a default its own check refuses, and a check that is not a function', () => {
      expect(() => new HandlerRegistry([handlerWith({ config: { ...range, default: { low: 9, high: 2 } } })])).toThrow(
        /config.default is refused by its own declaration: high must be above low \(9\)/,
      );
      expect(() => new HandlerRegistry([handlerWith({ config: { ...range, check: 'yes' as never } })])).toThrow(/config.check must be a function/);
    });
  });

  describe('environment settings', () => {
    const settings = { SAMPLE_BASE_URL: { type: 'url', default: 'https://api.example.com', description: 'where the API is' } } as const;

    it('gives each handler its settings (its defaults unless read at start-up), and its egress from them', () => {
      const declared = handlerWith({ settings, egress: (values) => [String(values.SAMPLE_BASE_URL)] });
      expect(new HandlerRegistry([declared]).get('sample')).toMatchObject({
        settings: { SAMPLE_BASE_URL: 'https://api.example.com' },
        egress: ['https://api.example.com'],
      });
      const read = new Map([['sample', { SAMPLE_BASE_URL: 'http://127.0.0.1:4020' }]]);
      expect(new HandlerRegistry([declared], read).get('sample')).toMatchObject({ egress: ['http://127.0.0.1:4020'] });
      expect(new HandlerRegistry([handlerWith({})]).get('sample')).toMatchObject({ settings: {}, egress: [] });
    });

    it('refuses malformed setting declarations, and a variable two handlers declare', () => {
      expect(() => new HandlerRegistry([handlerWith({ settings: { BASE_URL: settings.SAMPLE_BASE_URL } })])).toThrow(/starting with SAMPLE_/);
      expect(() => new HandlerRegistry([handlerWith({ egress: ['https://api.example.com'] as never })])).toThrow(/egress must be a function of the settings/);
      const shared = { type: 'url', default: 'https://api.example.com', description: 'x' } as const;
      expect(
        () =>
          new HandlerRegistry([
            handlerWith({ type: 'lead', settings: { LEAD_ASSIGNMENT_URL: shared } }),
            handlerWith({ type: 'lead-assignment', settings: { LEAD_ASSIGNMENT_URL: shared } }),
          ]),
      ).toThrow(/setting LEAD_ASSIGNMENT_URL is declared by lead too/);
    });
  });

  describe('checkOutputs', () => {
    const registry = new HandlerRegistry([handlerWith({})]);

    it('accepts outputs that keep the declaration', () => {
      expect(registry.checkOutputs('sample', { label: 'x', tier: 'A' })).toEqual([]);
      expect(registry.checkOutputs('sample', { label: 'x', tier: 'B', day: 86_400_000 * 3 })).toEqual([]);
    });

    it('names every output that breaks the declaration', () => {
      expect(registry.checkOutputs('sample', { label: 5, tier: 'Z', day: 1, extra: true })).toEqual(
        expect.arrayContaining([
          { path: 'output.label', message: 'must be a string (string)' },
          { path: 'output.tier', message: 'must be one of A, B' },
          { path: 'output.day', message: 'must be milliseconds at midnight UTC' },
          { path: 'output.extra', message: 'is not a declared output' },
        ]),
      );
      expect(registry.checkOutputs('sample', {})).toEqual(
        expect.arrayContaining([{ path: 'output.label', message: 'is declared but missing' }]),
      );
      expect(registry.checkOutputs('sample', null)).toEqual([{ path: 'output', message: 'must be an object of output fields' }]);
    });

    it('refuses a string output HubSpot would reject as too large', () => {
      expect(registry.checkOutputs('sample', { label: 'x'.repeat(65_001), tier: 'A' })).toEqual([
        { path: 'output.label', message: 'is longer than 65000 characters' },
      ]);
    });

    it('refuses a string output PostgreSQL could not store', () => {
      for (const label of ['a\u0000b', 'lone \ud800']) {
        expect(registry.checkOutputs('sample', { label, tier: 'A' })).toEqual([
          { path: 'output.label', message: expect.stringMatching(/U\+0000 or an unpaired surrogate/) },
        ]);
      }
    });
  });
});
