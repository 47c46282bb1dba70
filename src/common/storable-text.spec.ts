import { mayHoldUnstorableText, storableJson, unstorableTextProblems } from './storable-text';

describe('storable text', () => {
  it('finds U+0000 and unpaired surrogates in strings at any depth, and in keys, with validation-style paths', () => {
    const body = JSON.parse('{"type":"noop","input":{"name":"a\\u0000b","tags":["ok","x\\ud800"],"k\\u0000":1},"callbackId":"\\udc00"}');
    expect(unstorableTextProblems(body).map((p) => p.path)).toEqual(['input.name', 'input.tags[1]', 'input.k\\u0000', 'callbackId']);
    expect(unstorableTextProblems(body)[0].message).toMatch(/U\+0000/);
  });

  it('finds nothing in well-formed text: paired surrogates, other escapes, a literal backslash-u', () => {
    const body = JSON.parse('{"a":["\\ud83d\\ude00",{"c":"\\\\u0000"}],"t":"tab\\tend","n":1,"z":null}');
    expect(unstorableTextProblems(body)).toEqual([]);
    expect(unstorableTextProblems('\u0000')).toEqual([{ path: '', message: expect.any(String) }]);
  });

  it('tells from the text alone when a body holds no escape that could make such a string', () => {
    expect(mayHoldUnstorableText('{"a":"b"}')).toBe(false);
    expect(mayHoldUnstorableText('{"a":"\\u0000"}')).toBe(true);
  });

  it('serialises a value for PostgreSQL with U+FFFD in place of what it cannot store, and leaves the rest alone', () => {
    expect(storableJson({ message: 'bad \u0000 byte', nested: [{ ['k\u0000']: '\ud800x' }], ok: '😀' })).toBe(
      JSON.stringify({ message: 'bad \uFFFD byte', nested: [{ ['k\uFFFD']: '\uFFFDx' }], ok: '😀' }),
    );
    const plain = { a: 'b', n: [1, 2], t: 'tab\t' };
    expect(storableJson(plain)).toBe(JSON.stringify(plain));
  });
});
