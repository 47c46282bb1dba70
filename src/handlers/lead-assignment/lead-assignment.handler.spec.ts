import { testJobContext } from '../../registry/job-context.testing';
import { compileValidator } from '../../common/schema-validator';
import { checkHandlerClasses } from '../../registry/handler-registry';
import type { LeadAssignmentConfig } from './lead-assignment-config';
import { leadAssignmentDeclaration, LeadAssignmentHandler, leadValues } from './lead-assignment.handler';

const config: LeadAssignmentConfig = {
  territories: [
    { name: 'DACH', when: [{ property: 'country', in: ['Germany'] }], pool: 'p' },
    { name: 'Large', when: [{ property: 'numberofemployees', min: 1000 }, { property: 'segment', in: ['enterprise'] }], pool: 'p' },
  ],
  pools: { p: { strategy: 'round_robin' } },
  fallback: { pool: 'p' },
};

describe('lead-assignment declaration', () => {
  it('keeps the registry’s rules, and writes only the owner back, to hubspot_owner_id, unless a portal maps more', () => {
    expect(checkHandlerClasses([LeadAssignmentHandler])).toEqual([leadAssignmentDeclaration]);
    const { outputs } = leadAssignmentDeclaration;
    expect(Object.fromEntries(Object.entries(outputs).map(([name, output]) => [name, output.property]))).toEqual({
      owner_id: 'hubspot_owner_id',
      territory: null,
      assignment_reason: null,
    });
  });

  it('takes property values by HubSpot property name, and nothing else', () => {
    const validate = compileValidator(leadAssignmentDeclaration.input);
    expect(validate({ country: 'Germany', numberofemployees: 40, is_partner: true, state: null })).toEqual([]);
    expect(validate({ Country: 'Germany' })).toContainEqual({ path: 'Country', message: 'is not an allowed property' });
    expect(validate({ country: { name: 'Germany' } })).toContainEqual(expect.objectContaining({ path: 'country' }));
  });
});

describe('the values territories test', () => {
  it('reads from the job’s record only what the input leaves out', async () => {
    const reads: Array<{ object: unknown; properties: string[] }> = [];
    const { hubspot } = testJobContext({
      input: {},
      hubspot: {
        readProperties: async (object, properties) => {
          reads.push({ object, properties });
          return { numberofemployees: '5000', segment: 'Enterprise' };
        },
      },
    });
    const object = { type: 'CONTACT', id: '7' };
    expect(await leadValues({ country: 'France', segment: 'smb' }, object, config, hubspot)).toEqual({
      country: 'France',
      numberofemployees: '5000',
      segment: 'smb',
    });
    expect(reads).toEqual([{ object, properties: ['numberofemployees'] }]);
  });

  it('reads nothing when the input has every value, or the job has no record', async () => {
    const { hubspot } = testJobContext({ input: {} });
    const complete = { country: 'Germany', numberofemployees: 10, segment: null };
    expect(await leadValues(complete, { type: 'CONTACT', id: '7' }, config, hubspot)).toBe(complete);
    expect(await leadValues({ country: 'Germany' }, null, config, hubspot)).toEqual({ country: 'Germany' });
  });
});
