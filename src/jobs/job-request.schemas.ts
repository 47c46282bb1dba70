import { Type } from '@sinclair/typebox';
import { crmRecordId } from '../common/hubspot-id-schemas';
import { requestSchema } from '../common/request-schema';
import { JOB_PRIORITIES, JobPriority } from './job-record';

export const MAX_BATCH_JOBS = 100;

export const enqueueBody = requestSchema(
  Type.Object(
    {
      type: Type.String({ minLength: 1, maxLength: 63, description: 'A job type from GET /v1/handlers' }),
      input: Type.Optional(
        Type.Object({}, { additionalProperties: true, description: "The handler's input; checked against its inputSchema" }),
      ),
      object: Type.Optional(
        Type.Object(
          {
            type: Type.String({ minLength: 1, maxLength: 64, description: 'CRM object type, e.g. CONTACT or contacts' }),
            id: crmRecordId(),
            properties: Type.Optional(
              Type.Record(Type.String({ minLength: 1, maxLength: 100 }), Type.Union([Type.String({ maxLength: 65_536 }), Type.Null()]), {
                maxProperties: 200,
                description:
                  "The record's properties as the caller knows them (a custom workflow action's object.properties): the handler " +
                  'reads these before asking HubSpot. Not part of what makes two requests the same.',
              }),
            ),
          },
          { additionalProperties: false },
        ),
      ),
      idempotencyKey: Type.Optional(
        Type.String({ minLength: 1, maxLength: 255, description: 'Derived from portal, type, object and callbackId when absent' }),
      ),
      callbackId: Type.Optional(Type.String({ minLength: 1, maxLength: 255, description: "The workflow execution's callbackId" })),
      writeback: Type.Optional(Type.Boolean({ description: "Write the outputs to the object's properties" })),
      dryRun: Type.Optional(
        Type.Boolean({
          description:
            "Compute the outputs and the exact change they would write to the object (each property's old and new value, " +
            'in `changes`), and write nothing. Needs `object`.',
        }),
      ),
      priority: Type.Optional(
        Type.Unsafe<JobPriority>({
          type: 'string',
          enum: [...JOB_PRIORITIES],
          description:
            'live (the default): a workflow is waiting on the job. bulk: a backfill; when the portal\'s HubSpot API budget ' +
            'or the queue is short, live jobs of the portal go first.',
        }),
      ),
    },
    { additionalProperties: false },
  ),
);

export const batchBody = requestSchema(
  Type.Object(
    { jobs: Type.Array(Type.Unknown(), { minItems: 1, maxItems: MAX_BATCH_JOBS, description: 'Each as POST /v1/jobs takes it' }) },
    { additionalProperties: false },
  ),
);
