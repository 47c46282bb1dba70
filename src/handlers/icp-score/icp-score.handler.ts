import { Type } from '@sinclair/typebox';
import { RedisService } from '../../redis/redis.service';
import { HandlerDeclaration, InputOf, JobContext, JobHandler, JobHandlerOf } from '../../registry/job-handler';
import { checkIcpConfig, DEFAULT_ICP_CONFIG, IcpConfig, icpConfigSchema, imputationSettings, scoredProperties, TIERS } from './icp-config';
import { Histograms, impute, observationsOf } from './icp-imputation';
import { IcpObservations } from './icp-observations';
import { factsOf, IcpFacts, QUANTITY_PATTERN, RecordValues, scoreIcp } from './icp-scoring';

const UNSET = 'Not given: read from the record when the job has an object. null or blank: unknown, so imputed';

const text = (description: string) => Type.Optional(Type.Union([Type.String({ maxLength: 1000 }), Type.Null()], { description: `${description}. ${UNSET}` }));
const amount = (description: string) =>
  Type.Optional(
    Type.Union([Type.Number({ minimum: 0 }), Type.String({ pattern: `${QUANTITY_PATTERN}|^\\s*$`, maxLength: 100 }), Type.Null()], {
      description: `${description}: a number, or a text such as "1,200" or "$12.5M". ${UNSET}`,
    }),
  );

export const icpScoreDeclaration = {
  type: 'icp-score',
  version: '1.0.0',
  owner: 'revenue-operations',
  objectTypes: ['CONTACT', 'COMPANY'],
  objectProperties: ['industry', 'numberofemployees', 'annualrevenue', 'country', 'jobtitle', 'lifecyclestage'],
  description:
    "Ideal-customer-profile score (0-100) and tier (A-D) of a contact or company from its industry, headcount, revenue, country, job title seniority and lifecycle stage, under the portal's weighted rules; missing values are imputed.",
  input: Type.Object(
    {
      industry: text('Industry (HubSpot internal value, e.g. COMPUTER_SOFTWARE, or any text)'),
      numberofemployees: amount('Number of employees'),
      annualrevenue: amount('Annual revenue, in the portal currency'),
      country: text('Country, by name or code'),
      jobtitle: text('Job title'),
      lifecyclestage: text('Lifecycle stage (HubSpot internal value, e.g. salesqualifiedlead)'),
    },
    { additionalProperties: false },
  ),
  outputs: {
    icp_score: { hubspotType: 'number', description: 'How well the record fits the ideal customer profile: 0 to 100, a whole number' },
    icp_tier: { hubspotType: 'enumeration', options: TIERS, description: "A (best) to D, by the portal's tier thresholds" },
    icp_imputed_fields: { hubspotType: 'string', description: 'The properties whose values were imputed, comma-separated; "" when none' },
    icp_reasons: {
      hubspotType: 'string',
      description: 'What each criterion earned, largest first, e.g. `Industry COMPUTER_SOFTWARE matches "Software and internet" (+30); ...`',
    },
  },
  timeoutMs: 30_000,
  retry: { attempts: 4, backoffMs: 1_000, maxBackoffMs: 30_000 },
  concurrency: 200,
  config: { schema: icpConfigSchema, default: DEFAULT_ICP_CONFIG, check: checkIcpConfig },
} satisfies HandlerDeclaration;

type IcpScoreInput = InputOf<typeof icpScoreDeclaration>;
export type IcpScoreOutput = {
  icp_score: number;
  icp_tier: (typeof TIERS)[number];
  icp_imputed_fields: string;
  icp_reasons: string;
};

/**
 * The outputs for a record's facts: missing ones imputed from the portal's histograms or defaults,
 * then scored. Pure: the same facts, settings and histograms always give the same outputs.
 */
export function icpOutputs(facts: IcpFacts, config: IcpConfig, histograms: Histograms): IcpScoreOutput {
  const completed = impute(facts, config, histograms);
  const { score, tier, reasons } = scoreIcp(completed.facts, config, new Set(completed.imputed));
  return { icp_score: score, icp_tier: tier, icp_imputed_fields: completed.imputed.join(','), icp_reasons: reasons };
}

@JobHandlerOf(icpScoreDeclaration)
export class IcpScoreHandler implements JobHandler<IcpScoreInput, IcpScoreOutput, IcpConfig> {
  private readonly observations: IcpObservations;

  constructor(redis: RedisService) {
    this.observations = new IcpObservations(redis);
  }

  async run({ input, job, config, hubspot, logger }: JobContext<IcpScoreInput, IcpConfig>): Promise<IcpScoreOutput> {
    const weighed = scoredProperties(config);
    const values: RecordValues = { ...input };
    const unread = job.object ? weighed.filter((property) => input[property] === undefined) : [];
    if (unread.length > 0) Object.assign(values, await hubspot.readProperties(job.object!, unread));
    const facts = factsOf(values, config);
    const missing = weighed.filter((property) => facts[property] === undefined);
    const histograms = missing.length > 0 && imputationSettings(config).fromObserved ? await this.observations.histograms(job.portalId, missing) : {};
    const outputs = icpOutputs(facts, config, histograms);
    try {
      await this.observations.record(job.portalId, observationsOf(facts));
    } catch (error) {
      // The score stands without it; the distribution only misses this record.
      logger.warn(`observed values of job ${job.id} not counted: ${(error as Error).message}`);
    }
    return outputs;
  }
}
