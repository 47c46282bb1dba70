import { mergeWrites, outputProperties, propertyValue, refusedRecords } from './writeback-inputs';

describe('propertyValue', () => {
  it('writes booleans as HubSpot reads them', () => {
    expect(propertyValue(true)).toBe('true');
    expect(propertyValue(false)).toBe('false');
  });

  it('writes numbers, datetimes and dates (Unix ms) in plain decimal', () => {
    expect(propertyValue(3)).toBe('3');
    expect(propertyValue(-2.5)).toBe('-2.5');
    expect(propertyValue(1767225600000)).toBe('1767225600000');
    expect(propertyValue(1e21)).toBe('1000000000000000000000');
    expect(propertyValue(1.23e-7)).toBe('0.000000123');
  });

  it('leaves strings as they are, the empty one included (it clears the property)', () => {
    expect(propertyValue('Acme')).toBe('Acme');
    expect(propertyValue('')).toBe('');
  });
});

describe('outputProperties', () => {
  it('writes each output to the property of the same name by default', () => {
    expect(outputProperties({ ok: true, attempts: 2 })).toEqual({ ok: 'true', attempts: '2' });
  });

  it("follows the portal's mapping, and leaves out what it maps to null", () => {
    expect(outputProperties({ ok: true, attempts: 2, score: 7 }, { ok: 'offload_ok', attempts: null })).toEqual({
      offload_ok: 'true',
      score: '7',
    });
  });

  it("puts an output where its declaration says unless the portal maps it, and leaves out one declared null", () => {
    const declared = { owner_id: { property: 'hubspot_owner_id' }, note: { property: null }, score: {} };
    expect(outputProperties({ owner_id: '42', note: 'why', score: 7 }, {}, declared)).toEqual({ hubspot_owner_id: '42', score: '7' });
    expect(outputProperties({ owner_id: '42', note: 'why', score: 7 }, { owner_id: 'lead_owner', note: 'lead_note' }, declared)).toEqual({
      lead_owner: '42',
      lead_note: 'why',
      score: '7',
    });
  });
});

describe('mergeWrites', () => {
  it('sends one input per record, the later write winning where two set the same property', () => {
    const inputs = mergeWrites([
      { recordId: '1', properties: { a: 'first', b: 'kept' } },
      { recordId: '2', properties: { a: 'other' } },
      { recordId: '1', properties: { a: 'second', c: 'added' } },
    ]);
    expect(inputs).toEqual([
      { id: '1', properties: { a: 'second', b: 'kept', c: 'added' } },
      { id: '2', properties: { a: 'other' } },
    ]);
  });
});

describe('refusedRecords', () => {
  const ids = ['1', '2', '3'];

  it('refuses nothing when HubSpot answered without errors', () => {
    expect(refusedRecords(ids, { results: [{ id: '1' }, { id: '2' }, { id: '3' }] }).size).toBe(0);
  });

  it('splits a 207 answer: only the ids HubSpot names fail, each with its message', () => {
    const refused = refusedRecords(ids, {
      results: [{ id: '1' }],
      errors: [
        { message: 'Could not get some CONTACT objects', context: { ids: ['2'] } },
        { message: 'Property values were not valid', context: { ids: ['3'] } },
      ],
    });
    expect([...refused]).toEqual([
      ['2', 'Could not get some CONTACT objects'],
      ['3', 'Property values were not valid'],
    ]);
  });

  it('puts an error that names no ids on the records missing from the results', () => {
    const refused = refusedRecords(ids, { results: [{ id: '1' }, { id: '3' }], errors: [{ message: 'Something failed' }] });
    expect([...refused]).toEqual([['2', 'Something failed']]);
  });
});
