import { Client } from '@hubspot/api-client';
import type { PublicActionDefinitionEgg } from '@hubspot/api-client/lib/codegen/automation/actions';
import { apiVersionMiddleware } from '../../src/hubspot/client/api-version';
import type { ApiDefinition } from './action-definition';

export interface PublishTarget {
  baseUrl: string;
  apiVersion: string;
  appId: number;
  developerApiKey: string;
}

/**
 * Sends a definition to the app's custom workflow actions through the official client, on the
 * date-versioned path: the app's definition with the same action URL is updated, or a new one is
 * created. Answers the definition's id and whether it was created.
 */
export async function publishDefinition(definition: ApiDefinition, target: PublishTarget): Promise<{ id: string; created: boolean }> {
  const client = new Client({
    basePath: target.baseUrl,
    developerApiKey: target.developerApiKey,
    numberOfApiCallRetries: 0,
    middleware: [apiVersionMiddleware(target.apiVersion)],
  });
  const definitions = client.automation.actions.definitionsApi;
  const body = definition as unknown as PublicActionDefinitionEgg;
  const existing: Array<{ id: string; actionUrl: string }> = [];
  let after: string | undefined;
  do {
    const page = await definitions.getPage(target.appId, 100, after);
    existing.push(...page.results);
    after = page.paging?.next?.after;
  } while (after);
  const same = existing.find((candidate) => candidate.actionUrl === definition.actionUrl);
  if (same) {
    const { functions: _functions, ...patch } = definition;
    await definitions.update(same.id, target.appId, patch as never);
    return { id: same.id, created: false };
  }
  const created = await definitions.create(target.appId, body);
  return { id: created.id, created: true };
}
