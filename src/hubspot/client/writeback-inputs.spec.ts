import { mergeWrites, outputProperties, propertyValue, recordVerdicts, refusal, sameValue } from './writeback-inputs';

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
  it('sends one input per record, traced by its id, the later job winning where two set the same property', () => {
    const inputs = mergeWrites([
      { recordId: '1', properties: { a: 'second', c: 'added' }, order: 20 },
      { recordId: '2', properties: { a: 'other' }, order: 15 },
      { recordId: '1', properties: { a: 'first', b: 'kept' }, order: 10 },
    ]);
    expect(inputs).toEqual([
      { id: '1', objectWriteTraceId: '1', properties: { a: 'second', b: 'kept', c: 'added' } },
      { id: '2', objectWriteTraceId: '2', properties: { a: 'other' } },
    ]);
  });

  it('keeps the order the writes came in between jobs created at the same time', () => {
    const inputs = mergeWrites([
      { recordId: '1', properties: { a: 'first' }, order: 10 },
      { recordId: '1', properties: { a: 'second' }, order: 10 },
    ]);
    expect(inputs[0].properties).toEqual({ a: 'second' });
  });
});

describe('recordVerdicts', () => {
  const ids = ['1', '2', '3'];

  it('takes the records in the results as written', () => {
    expect([...recordVerdicts(ids, { results: [{ id: '1' }, { id: '2' }, { id: '3' }] }).values()]).toEqual([
      { written: true },
      { written: true },
      { written: true },
    ]);
  });

  it('splits a 207 answer: only the ids HubSpot names are refused, each with its message', () => {
    const verdicts = recordVerdicts(ids, {
      results: [{ id: '1' }],
      errors: [
        { message: 'Could not get some CONTACT objects', context: { ids: ['2'] } },
        { message: 'Property values were not valid', context: { objectWriteTraceId: ['3'] } },
      ],
    });
    expect(verdicts.get('1')).toEqual({ written: true });
    expect(verdicts.get('2')).toEqual({ refused: 'Could not get some CONTACT objects', properties: [] });
    expect(verdicts.get('3')).toEqual({ refused: 'Property values were not valid', properties: [] });
  });

  it('puts an error that names no ids on the records missing from the results', () => {
    const verdicts = recordVerdicts(ids, { results: [{ id: '1' }, { id: '3' }], errors: [{ message: 'Something failed' }] });
    expect(verdicts.get('2')).toEqual({ refused: 'Something failed', properties: [] });
  });

  it('never takes a record left out of the answer without an error as written, with a 200 or a 207', () => {
    expect(recordVerdicts(ids, { results: [{ id: '1' }] }).get('2')).toEqual({ unconfirmed: true });
    expect(recordVerdicts(ids, { results: [{ id: '1' }], errors: [{ message: 'gone', context: { ids: ['3'] } }] }).get('2')).toEqual({
      unconfirmed: true,
    });
  });
});

describe('refusal', () => {
  it("names the properties HubSpot's message or context names", () => {
    const invalid = 'Property values were not valid: [{"isValid":false,"message":"Property \\"label\\" does not exist","error":"PROPERTY_DOESNT_EXIST","name":"label"}]';
    expect(refusal({ message: invalid }).properties).toEqual(['label']);
    expect(refusal({ message: 'Property "ok" does not exist' }).properties).toEqual(['ok']);
    expect(refusal({ message: 'Invalid value', context: { propertyName: ['score'] } }).properties).toEqual(['score']);
    expect(refusal({ message: 'Something failed' })).toEqual({ refused: 'Something failed', properties: [] });
  });
});

describe('sameValue: whether a record read back holds a value written to it', () => {
  it('matches values HubSpot keeps as written, or in its own form of the same number or time', () => {
    expect(sameValue('true', 'true')).toBe(true);
    expect(sameValue('3', '3.0')).toBe(true);
    expect(sameValue('1735689600000', '2025-01-01T00:00:00Z')).toBe(true);
    expect(sameValue('1735689600000', '2025-01-01T00:00:00.000Z')).toBe(true);
    expect(sameValue('', null)).toBe(true);
  });

  it('takes anything else as not written, so the write goes again rather than being lost', () => {
    expect(sameValue('true', 'false')).toBe(false);
    expect(sameValue('3', '4')).toBe(false);
    expect(sameValue('3', '')).toBe(false);
    expect(sameValue('vip', null)).toBe(false);
    expect(sameValue('1735689600000', '2025-01-02T00:00:00Z')).toBe(false);
    expect(sameValue('', '0')).toBe(false);
  });
});
