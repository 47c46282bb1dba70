import { randomBytes } from 'node:crypto';
import { compileValidator } from '../src/common/schema-validator';
import { AppConfig } from '../src/config/app-config';
import { DEFAULT_ICP_CONFIG, IcpConfig } from '../src/handlers/icp-score/icp-config';
import { icpScoreDeclaration, IcpScoreHandler } from '../src/handlers/icp-score/icp-score.handler';
import { RedisService } from '../src/redis/redis.service';
import { checkHandlerClasses, HandlerRegistry } from '../src/registry/handler-registry';
import { testJobContext } from '../src/registry/job-context.testing';
import { JobFailure } from '../src/registry/job-handler';

const everything = {
  industry: 'COMPUTER_SOFTWARE',
  numberofemployees: 350,
  annualrevenue: '$25M',
  country: 'Germany',
  jobtitle: 'VP of Engineering',
  lifecyclestage: 'opportunity',
};

describe('icp-score declaration', () => {
  it('keeps the registry’s rules, and its default settings pass their own check', () => {
    expect(checkHandlerClasses([IcpScoreHandler])).toEqual([icpScoreDeclaration]);
  });

  it('takes the six properties, each optional, as numbers or amounts where they are numbers, and nothing else', () => {
    const validate = compileValidator(icpScoreDeclaration.input);
    expect(validate({})).toEqual([]);
    expect(validate(everything)).toEqual([]);
    expect(validate({ numberofemployees: '1,200', annualrevenue: null, industry: null, jobtitle: '' })).toEqual([]);
    expect(validate({ numberofemployees: -1 })).toContainEqual(expect.objectContaining({ path: 'numberofemployees' }));
    expect(validate({ annualrevenue: 'a lot' })).toContainEqual(expect.objectContaining({ path: 'annualrevenue' }));
    expect(validate({ jobTitle: 'CTO' })).toContainEqual({ path: 'jobTitle', message: 'is not an allowed property' });
  });
});

describe('IcpScoreHandler (on Redis)', () => {
  const prefix = `offload-test-${randomBytes(5).toString('hex')}`;
  let redis: RedisService;
  let handler: IcpScoreHandler;
  let portal = 0;

  beforeAll(() => {
    redis = new RedisService({ redis: { host: '127.0.0.1', port: 6379, db: 0 }, redisPrefix: prefix } as AppConfig);
    handler = new IcpScoreHandler(redis);
  });

  afterAll(async () => {
    const keys = await redis.client.keys(`${prefix}:*`);
    if (keys.length > 0) await redis.client.del(...keys);
    await redis.onApplicationShutdown();
  });

  function context(input: Record<string, unknown>, options: { object?: { type: string; id: string }; portalId?: string; config?: IcpConfig; reads?: string[][] } = {}) {
    return testJobContext({
      input,
      config: options.config ?? DEFAULT_ICP_CONFIG,
      job: { type: 'icp-score', portalId: options.portalId ?? `portal-${++portal}`, object: options.object ?? null },
      hubspot: {
        readProperties: async (object, properties) => {
          options.reads?.push([object.id, ...properties]);
          if (object.id === 'missing') throw new JobFailure('hubspot_record_not_found', 'no such contact', { retryable: false });
          return Object.fromEntries(properties.map((name) => [name, name === 'numberofemployees' ? '40' : name === 'industry' ? 'BANKING' : null]));
        },
      },
    });
  }

  it('scores a record whose input carries every property, without asking HubSpot, in outputs that keep the declaration', async () => {
    const outputs = await handler.run(context(everything));
    expect(new HandlerRegistry([handler]).checkOutputs('icp-score', outputs)).toEqual([]);
    expect(outputs).toEqual({
      icp_score: 97,
      icp_tier: 'A',
      icp_imputed_fields: '',
      icp_reasons:
        'Industry COMPUTER_SOFTWARE matches "Software and internet" (+30); Employees 350 in 200-999 (+20); Annual revenue 25M in 10M-100M (+15); ' +
        'Seniority VP (+13.5 of 15); Lifecycle stage opportunity matches "Sales-ready or won" (+10); Country Germany matches "UK, Ireland and DACH" (+8 of 10)',
    });
  });

  it('reads from the job’s record only the properties the input lacks, and imputes what the record lacks too', async () => {
    const reads: string[][] = [];
    const outputs = await handler.run(context({ country: 'US', jobtitle: 'CTO', annualrevenue: null }, { object: { type: 'CONTACT', id: '42' }, reads }));
    expect(reads).toEqual([['42', 'industry', 'numberofemployees', 'lifecyclestage']]);
    expect(outputs).toMatchObject({ icp_imputed_fields: 'lifecyclestage' });
    expect(outputs.icp_reasons).toContain('Industry BANKING matches "Financial services" (+21 of 30)');
    expect(outputs.icp_reasons).toContain('Employees 40 in 10-49 (+8 of 20)');
    expect(outputs.icp_reasons).toContain('Lifecycle stage lead (imputed) matches "Lead" (+4 of 10)');
    expect(outputs.icp_reasons).toContain('Annual revenue unknown (+0 of 15)');
  });

  it('fails the job as HubSpot’s read does', async () => {
    await expect(handler.run(context({}, { object: { type: 'CONTACT', id: 'missing' } }))).rejects.toMatchObject({ code: 'hubspot_record_not_found', retryable: false });
  });

  it("imputes the portal's observed values once it has enough, and the defaults before", async () => {
    const portalId = `portal-${++portal}`;
    const config: IcpConfig = { ...DEFAULT_ICP_CONFIG, imputation: { minObservations: 3, defaults: { industry: 'RETAIL', jobtitle: 'manager' } } };
    const before = await handler.run(context({ country: 'US' }, { portalId, config }));
    expect(before.icp_imputed_fields).toBe('industry,jobtitle');
    expect(before.icp_reasons).toContain('Industry RETAIL (imputed) does not match (+0 of 30)');

    for (const numberofemployees of [20, 400, 500]) {
      await handler.run(context({ industry: 'Internet', numberofemployees, jobtitle: 'Director of Sales' }, { portalId: `${portalId}-seen`, config }));
    }
    const after = await handler.run(context({ country: 'US' }, { portalId: `${portalId}-seen`, config }));
    expect(after.icp_imputed_fields).toBe('industry,numberofemployees,jobtitle');
    expect(after.icp_reasons).toContain('Industry internet (imputed) matches "Software and internet" (+30)');
    expect(after.icp_reasons).toContain('Employees 400 (imputed) in 200-999 (+20)');
    expect(after.icp_reasons).toContain('Seniority Director (imputed) (+11.3 of 15)');
  });
});
