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
export { parseFaultSettings } from './faults';
export type { FaultSettings } from './faults';
export type { RecordedCall, SimulatorStats } from './recorder';
export type { CallbackCompletion, CrmObjectType, Owner, OwnerSeed, SeedRecord } from './store';
export type { HubSpotErrorBody, RateLimitPolicy } from './errors';
