import { Type } from '@sinclair/typebox';
import { DataSource } from 'typeorm';
import { HandlerDeclaration, JobContext, JobFailure, JobHandler, JobHandlerOf, JobHubSpot, JobRef } from '../../registry/job-handler';
import { OwnerDirectory, passedReason, pickedReason, planAssignment, PoolStep } from './assignment-plan';
import { Assignment, AssignmentStore, JobKey } from './assignment-store';
import {
  checkLeadAssignmentConfig,
  DEFAULT_LEAD_ASSIGNMENT_CONFIG,
  DEFAULT_OPEN_LEAD_DAYS,
  LeadAssignmentConfig,
  leadAssignmentConfigSchema,
  PROPERTY_NAME_PATTERN,
} from './lead-assignment-config';
import { propertiesTested, PropertyValues } from './territories';

export const leadAssignmentDeclaration = {
  type: 'lead-assignment',
  version: '1.0.0',
  owner: 'revenue-operations',
  objectTypes: ['CONTACT', 'LEAD'],
  scopes: ['crm.objects.owners.read'],
  description:
    "Gives a lead an owner: the first territory (rules over country, region, company size, segment or any property) whose conditions hold picks from its pool of owners round-robin, by weight or by open leads against capacity; inactive and unavailable owners are skipped, and a fallback pool or owner takes the rest.",
  input: Type.Record(
    Type.String({ pattern: PROPERTY_NAME_PATTERN }),
    Type.Union([Type.String({ maxLength: 1_000 }), Type.Number(), Type.Boolean(), Type.Null()]),
    {
      additionalProperties: false,
      maxProperties: 50,
      description:
        'Property values of the lead by HubSpot property name (country, state, numberofemployees, ...); those the territories test and the input leaves out are read from the job’s CRM record',
    },
  ),
  outputs: {
    owner_id: {
      hubspotType: 'string',
      description: 'The HubSpot owner id the lead is assigned to',
      property: 'hubspot_owner_id',
    },
    territory: {
      hubspotType: 'string',
      description: 'The territory that took the lead; "" when none did (the fallback took it)',
      property: null,
    },
    assignment_reason: {
      hubspotType: 'string',
      description: 'Why this owner, for a person to read: the territory and the values it matched, the pool, its strategy, who was skipped',
      property: null,
    },
  },
  timeoutMs: 30_000,
  retry: { attempts: 5, backoffMs: 1_000, maxBackoffMs: 30_000 },
  // A run waiting for an owner pool's lock holds a database connection: few runs at once leave the worker's other connections free.
  concurrency: 8,
  config: { schema: leadAssignmentConfigSchema, default: DEFAULT_LEAD_ASSIGNMENT_CONFIG, check: checkLeadAssignmentConfig },
} satisfies HandlerDeclaration;

export type LeadAssignmentOutput = { owner_id: string; territory: string; assignment_reason: string };

@JobHandlerOf(leadAssignmentDeclaration)
export class LeadAssignmentHandler implements JobHandler<PropertyValues, LeadAssignmentOutput, LeadAssignmentConfig> {
  private readonly store: AssignmentStore;

  constructor(db: DataSource) {
    this.store = new AssignmentStore(db);
  }

  async run({ input, job, config, hubspot }: JobContext<PropertyValues, LeadAssignmentConfig>): Promise<LeadAssignmentOutput> {
    const key: JobKey = { portalId: job.portalId, jobId: job.id };
    const recorded = await this.store.recorded(key);
    if (recorded) return outputsOf(recorded);

    const values = await leadValues(input, job.object, config, hubspot);
    const plan = planAssignment(config, values, new OwnerDirectory(await hubspot.owners(), config.unavailable));
    const notes = [plan.matched];
    for (const step of plan.pools) {
      const assignment = step.candidates.length > 0 ? await this.fromPool(key, step, plan.territory, notes, config) : undefined;
      if (assignment) return outputsOf(assignment);
      notes.push(passedReason(step));
    }
    const fallback = plan.fallbackOwner;
    if (fallback && 'candidate' in fallback) {
      const reason = [...notes, `Fallback owner: ${fallback.candidate.label}.`].join(' ');
      return outputsOf(await this.store.assign(key, { ownerId: fallback.candidate.id, territory: plan.territory, pool: null, reason }));
    }
    notes.push(fallback ? `And ${fallback.problem}.` : 'No fallback owner is set.');
    throw new JobFailure('lead_assignment_no_owner', `No owner can take the lead. ${notes.join(' ')}`, { retryable: false });
  }

  private fromPool(key: JobKey, step: PoolStep, territory: string, notes: string[], config: LeadAssignmentConfig): Promise<Assignment | undefined> {
    const openLeads =
      step.strategy === 'capacity'
        ? { ownerIds: step.candidates.map((candidate) => candidate.id), days: config.openLeadDays ?? DEFAULT_OPEN_LEAD_DAYS }
        : undefined;
    return this.store.assignFromPool(key, { name: step.pool, openLeads }, (state) => {
      const choice = step.picker(state);
      return choice && { ownerId: choice.candidate.id, territory, reason: [...notes, pickedReason(step, choice.candidate, choice.why)].join(' ') };
    });
  }
}

/** The values the territories test: the input's, and what it leaves out read from the job's record (when it has one). */
export async function leadValues(
  input: PropertyValues,
  object: JobRef['object'],
  config: LeadAssignmentConfig,
  hubspot: Pick<JobHubSpot, 'readProperties'>,
): Promise<PropertyValues> {
  const missing = propertiesTested(config.territories).filter((property) => !Object.hasOwn(input, property));
  if (missing.length === 0 || !object) return input;
  return { ...(await hubspot.readProperties(object, missing)), ...input };
}

function outputsOf(assignment: Assignment): LeadAssignmentOutput {
  return { owner_id: assignment.ownerId, territory: assignment.territory, assignment_reason: assignment.reason };
}
