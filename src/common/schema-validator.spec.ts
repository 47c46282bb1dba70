import { Type } from '@sinclair/typebox';
import { compileValidator } from './schema-validator';

describe('compileValidator', () => {
  const validate = compileValidator(
    Type.Object(
      {
        name: Type.String({ minLength: 1 }),
        tags: Type.Optional(Type.Array(Type.Object({ id: Type.Integer() }))),
      },
      { additionalProperties: false },
    ),
  );

  it('accepts a valid value', () => {
    expect(validate({ name: 'x', tags: [{ id: 1 }] })).toEqual([]);
  });

  it('names every offending field with a dotted path under the prefix', () => {
    expect(validate({ tags: [{ id: 'a' }], extra: true }, 'input')).toEqual(
      expect.arrayContaining([
        { path: 'input.name', message: 'is required' },
        { path: 'input.extra', message: 'is not an allowed property' },
        { path: 'input.tags[0].id', message: 'must be integer' },
      ]),
    );
  });

  it('reports a problem with the root value under the prefix itself', () => {
    expect(validate('nope', 'input')).toEqual([{ path: 'input', message: 'must be object' }]);
  });
});
