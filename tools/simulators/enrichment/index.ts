export { createEnrichmentSimulator, DEFAULT_API_KEY, EnrichmentSimulator, errorBody, MAX_BULK_REQUESTS } from './simulator';
export type { EnrichmentSimulatorOptions } from './simulator';
export { companyForDomain, COMPANY_SIZES, REVENUE_RANGES } from './companies';
export type { CompanyRecord } from './companies';
export { MODES, parseModeRule } from './modes';
export type { Mode, ModeRule } from './modes';
export type { EnrichmentSimulatorStats, RecordedCall } from './recorder';
