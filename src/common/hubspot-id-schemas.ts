import { Type } from '@sinclair/typebox';

/**
 * HubSpot's ids in request bodies. A JSON number past 2^53 has already lost digits when it is
 * parsed, so a larger id must come as a string; bounding the numbers also keeps them inside
 * PostgreSQL's bigint.
 */
export const crmRecordId = (description?: string) =>
  Type.Union(
    [
      Type.String({ minLength: 1, maxLength: 64, pattern: '^[A-Za-z0-9_-]+$' }),
      Type.Integer({ minimum: 0, maximum: Number.MAX_SAFE_INTEGER }),
    ],
    { description: description ?? 'CRM record id (a string for ids past 2^53)' },
  );

export const hubspotAccountId = (description: string) => Type.Integer({ minimum: 1, maximum: Number.MAX_SAFE_INTEGER, description });
