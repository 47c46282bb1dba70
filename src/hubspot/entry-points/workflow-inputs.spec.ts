import { Type } from '@sinclair/typebox';
import { workflowInput } from './workflow-inputs';

const schema = Type.Object({
  sleepMs: Type.Optional(Type.Integer()),
  ratio: Type.Optional(Type.Number()),
  fatal: Type.Optional(Type.Boolean()),
  domain: Type.Optional(Type.String()),
});

describe('workflowInput', () => {
  it('reads text as the number, integer or boolean the schema declares', () => {
    expect(workflowInput({ sleepMs: '250', ratio: ' 0.5 ', fatal: 'TRUE', domain: '42' }, schema, { declaredOnly: true })).toEqual({
      sleepMs: 250,
      ratio: 0.5,
      fatal: true,
      domain: '42',
    });
  });

  it('keeps values already typed, and text that does not read as the type (validation names it)', () => {
    expect(workflowInput({ sleepMs: 5, fatal: false, ratio: 'lots' }, schema, { declaredOnly: true })).toEqual({
      sleepMs: 5,
      fatal: false,
      ratio: 'lots',
    });
  });

  it('leaves out unset typed properties ("" or null), as if not sent', () => {
    expect(workflowInput({ sleepMs: '', fatal: null, domain: '' }, schema, { declaredOnly: true })).toEqual({ domain: '' });
  });

  it('drops undeclared values only when asked to', () => {
    const values = { sleepMs: '1', hs_object_id: '7', email: 'a@b.c' };
    expect(workflowInput(values, schema, { declaredOnly: true })).toEqual({ sleepMs: 1 });
    expect(workflowInput(values, schema, { declaredOnly: false })).toEqual({ sleepMs: 1, hs_object_id: '7', email: 'a@b.c' });
  });
});
