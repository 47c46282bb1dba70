import { configRefusal } from '../config/config-refusal.testing';
import { checkSettingDeclarations, readHandlerSettings, readSettings, SettingDeclarations } from './handler-settings';

const SETTINGS = {
  SAMPLE_BASE_URL: { type: 'url', default: 'https://api.example.com', description: 'where the API is' },
  SAMPLE_BATCH_SIZE: { type: 'integer', default: 50, min: 1, max: 100, description: 'items per call' },
  SAMPLE_REGION: { type: 'string', default: 'eu', pattern: /^[a-z]{2}$/, description: 'the API region' },
} satisfies SettingDeclarations;

const refusal = (env: Record<string, string>) => configRefusal(() => readSettings(SETTINGS, env));

describe('readSettings', () => {
  it('answers each default for an unset or blank variable, and the parsed value of a set one', () => {
    expect(readSettings(SETTINGS, { SAMPLE_BATCH_SIZE: ' ' })).toEqual({ SAMPLE_BASE_URL: 'https://api.example.com', SAMPLE_BATCH_SIZE: 50, SAMPLE_REGION: 'eu' });
    expect(readSettings(SETTINGS, { SAMPLE_BASE_URL: 'http://127.0.0.1:4020', SAMPLE_BATCH_SIZE: '7', SAMPLE_REGION: 'us' })).toEqual({
      SAMPLE_BASE_URL: 'http://127.0.0.1:4020',
      SAMPLE_BATCH_SIZE: 7,
      SAMPLE_REGION: 'us',
    });
    expect(readSettings(undefined, { SAMPLE_REGION: 'us' })).toEqual({});
  });

  it.each([
    ['SAMPLE_BASE_URL', { SAMPLE_BASE_URL: 'ftp://api.example.com' }, /must use http: or https:/],
    ['SAMPLE_BASE_URL', { SAMPLE_BASE_URL: 'api.example.com' }, /must be a URL/],
    ['SAMPLE_BATCH_SIZE', { SAMPLE_BATCH_SIZE: '101' }, /must be an integer from 1 to 100 \(got "101"\)/],
    ['SAMPLE_REGION', { SAMPLE_REGION: 'europe' }, /must match/],
  ])('refuses an invalid %s, naming it', (variable, env, problem) => {
    const error = refusal(env);
    expect(error.variable).toBe(variable);
    expect(error.message).toContain(variable);
    expect(error.message).toMatch(problem);
  });

  it('reads every handler’s settings by job type', () => {
    const settings = readHandlerSettings([{ type: 'sample', settings: SETTINGS }, { type: 'plain' }], { SAMPLE_BATCH_SIZE: '9' });
    expect(settings.get('sample')).toMatchObject({ SAMPLE_BATCH_SIZE: 9 });
    expect(settings.get('plain')).toEqual({});
  });
});

describe('checkSettingDeclarations', () => {
  it('accepts settings named for the handler, described, with defaults they accept', () => {
    expect(checkSettingDeclarations('sample', SETTINGS)).toEqual([]);
    expect(checkSettingDeclarations('lead-assignment', { LEAD_ASSIGNMENT_LIMIT: { type: 'integer', default: 1, min: 1, max: 2, description: 'x' } })).toEqual([]);
  });

  it.each([
    [[], /settings must map variable names/],
    [{ OTHER_URL: SETTINGS.SAMPLE_BASE_URL }, /"OTHER_URL" must be an upper-case variable name starting with SAMPLE_/],
    [{ sample_url: SETTINGS.SAMPLE_BASE_URL }, /must be an upper-case variable name/],
    [{ SAMPLE_: SETTINGS.SAMPLE_BASE_URL }, /"SAMPLE_" must be/],
    [{ SAMPLE_FLAG: { type: 'boolean', default: true, description: 'x' } }, /type "boolean", not url, integer or string/],
    [{ SAMPLE_URL: { ...SETTINGS.SAMPLE_BASE_URL, description: ' ' } }, /SAMPLE_URL needs a description/],
    [{ SAMPLE_SIZE: { ...SETTINGS.SAMPLE_BATCH_SIZE, default: 0 } }, /SAMPLE_SIZE has a default its own declaration refuses: it must be an integer from 1 to 100/],
    [{ SAMPLE_URL: { ...SETTINGS.SAMPLE_BASE_URL, default: 'nowhere' } }, /SAMPLE_URL has a default its own declaration refuses: it must be a URL/],
    [{ SAMPLE_AREA: { ...SETTINGS.SAMPLE_REGION, default: 'EU' } }, /SAMPLE_AREA has a default its own declaration refuses/],
  ])('refuses %j', (declarations, problem) => {
    expect(checkSettingDeclarations('sample', declarations).join('\n')).toMatch(problem);
  });
});
