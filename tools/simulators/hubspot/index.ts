export {
  canonicalPath,
  createHubSpotSimulator,
  DEFAULT_CLIENT_ID,
  DEFAULT_CLIENT_SECRET,
  DEFAULT_PORTAL_ID,
  HubSpotSimulator,
  MAX_BATCH_INPUTS,
  SimulatorState,
} from './simulator';
export type { HubSpotSimulatorOptions, InjectApi, OAuthClient, PortalOptions } from './simulator';
export { DEFAULT_DEVELOPER_API_KEY } from './app';
export type { StoredDefinition } from './app';
export { parseFaultSettings } from './faults';
export type { FaultSettings } from './faults';
export type { RecordedCall, SimulatorStats } from './recorder';
export type { CallbackCompletion, CrmObjectType, Owner, OwnerSeed, SeedRecord } from './store';
export type { HubSpotErrorBody, RateLimitPolicy } from './errors';
