import { DEFAULT_DEMO_OPTIONS, DemoUsageError, parseDemoOptions } from './demo-options';

describe('parseDemoOptions', () => {
  it('answers the defaults without flags: 1,000 contacts, Offload on port 3000, left running', () => {
    expect(parseDemoOptions([])).toEqual(DEFAULT_DEMO_OPTIONS);
    expect(DEFAULT_DEMO_OPTIONS).toMatchObject({ contacts: 1_000, port: 3000, lang: 'js', exit: false });
  });

  it('reads every flag, as --flag=value or --flag value', () => {
    expect(
      parseDemoOptions([
        '--contacts=30',
        '--rate-limit',
        '50',
        '--hubspot-error-rate=0.2',
        '--hubspot-latency-ms=40',
        '--enrichment-error-rate=0.1',
        '--enrichment-no-match-rate=0.3',
        '--concurrency=4',
        '--lang=python',
        '--port=0',
        '--hubspot-port=4010',
        '--enrichment-port=4020',
        '--exit',
      ]),
    ).toEqual({
      contacts: 30,
      rateLimit: 50,
      hubspotErrorRate: 0.2,
      hubspotLatencyMs: 40,
      enrichmentErrorRate: 0.1,
      enrichmentNoMatchRate: 0.3,
      concurrency: 4,
      lang: 'python',
      port: 0,
      hubspotPort: 4010,
      enrichmentPort: 4020,
      exit: true,
    });
  });

  it('answers undefined for --help', () => {
    expect(parseDemoOptions(['--help'])).toBeUndefined();
  });

  it.each([
    [['--contacts=0'], '--contacts must be a whole number from 1 to 100000, not "0"'],
    [['--contacts=2.5'], '--contacts must be a whole number from 1 to 100000, not "2.5"'],
    [['--contacts='], '--contacts must be a whole number from 1 to 100000, not ""'],
    [['--concurrency=1000'], '--concurrency must be a whole number from 1 to 256, not "1000"'],
    [['--hubspot-error-rate=1.5'], '--hubspot-error-rate must be a number from 0 to 1, not "1.5"'],
    [['--hubspot-error-rate=1'], '--hubspot-error-rate must be below 1'],
    [['--enrichment-error-rate=abc'], '--enrichment-error-rate must be a number from 0 to 1, not "abc"'],
    [['--enrichment-error-rate=0.6', '--enrichment-no-match-rate=0.5'], 'together cannot exceed 1'],
    [['--port=70000'], '--port must be a whole number from 0 to 65535, not "70000"'],
    [['--lang=ruby'], '--lang must be one of js, python, not "ruby"'],
    [['--contact=5'], "Unknown option '--contact'"],
    [['--contacts'], "Option '--contacts <value>' argument missing"],
    [['extra'], "Unexpected argument 'extra'"],
  ])('refuses %j: %s', (argv, message) => {
    expect(() => parseDemoOptions(argv)).toThrow(DemoUsageError);
    expect(() => parseDemoOptions(argv)).toThrow(message);
  });
});
