import type { HubSpotSimulator } from '../../tools/simulators/hubspot';

/** How many record updates HubSpot applied, over every batch update it answered 200. */
export function recordsWritten(sim: HubSpotSimulator): number {
  return sim
    .listCalls({ endpoint: 'crm.objects.batch.update' })
    .filter((call) => call.status === 200)
    .reduce((sum, call) => sum + Number(call.summary?.inputs ?? 0), 0);
}

/**
 * Contacts 1..count each hold the outputs of a noop job's first run, and HubSpot applied exactly
 * count updates: no record was written twice.
 */
export function expectContactsWrittenOnce(sim: HubSpotSimulator, count: number): void {
  for (let id = 1; id <= count; id++) expect(sim.getObject('contacts', id)!.properties).toMatchObject({ ok: 'true', attempts: '1' });
  expect(recordsWritten(sim)).toBe(count);
}
