import { createHash } from 'node:crypto';

export type CrmObjectType = 'contacts' | 'companies' | 'deals';

const TYPE_ALIASES: Record<string, CrmObjectType> = {
  contacts: 'contacts',
  contact: 'contacts',
  '0-1': 'contacts',
  companies: 'companies',
  company: 'companies',
  '0-2': 'companies',
  deals: 'deals',
  deal: 'deals',
  '0-3': 'deals',
};

/** `contacts`, `0-1` (and the singular) name the same type, as in HubSpot's paths. */
export function resolveObjectType(name: string): CrmObjectType | undefined {
  return TYPE_ALIASES[name.toLowerCase()];
}

/** The name HubSpot uses in messages: CONTACT, COMPANY, DEAL. */
export const OBJECT_TYPE_LABEL: Record<CrmObjectType, string> = { contacts: 'CONTACT', companies: 'COMPANY', deals: 'DEAL' };
export const OBJECT_TYPE_ID: Record<CrmObjectType, string> = { contacts: '0-1', companies: '0-2', deals: '0-3' };

const LAST_MODIFIED: Record<CrmObjectType, string> = {
  contacts: 'lastmodifieddate',
  companies: 'hs_lastmodifieddate',
  deals: 'hs_lastmodifieddate',
};

/** The properties HubSpot returns when a read names none. */
const DEFAULT_PROPERTIES: Record<CrmObjectType, string[]> = {
  contacts: ['createdate', 'email', 'firstname', 'hs_object_id', 'lastmodifieddate', 'lastname'],
  companies: ['createdate', 'domain', 'hs_lastmodifieddate', 'hs_object_id', 'name'],
  deals: ['amount', 'closedate', 'createdate', 'dealname', 'dealstage', 'hs_lastmodifieddate', 'hs_object_id', 'pipeline'],
};

/** A portal's property schema starts with these; seeds and defineProperties add more. */
const BUILT_IN_PROPERTIES: Record<CrmObjectType, string[]> = {
  contacts: [
    ...DEFAULT_PROPERTIES.contacts,
    'phone', 'mobilephone', 'company', 'website', 'jobtitle', 'city', 'state', 'country', 'zip', 'address',
    'lifecyclestage', 'hs_lead_status', 'hubspot_owner_id', 'hs_email_domain', 'industry', 'annualrevenue',
    'numemployees', 'notes_last_updated',
  ],
  companies: [
    ...DEFAULT_PROPERTIES.companies,
    'phone', 'website', 'city', 'state', 'country', 'zip', 'address', 'industry', 'annualrevenue',
    'numberofemployees', 'description', 'lifecyclestage', 'hubspot_owner_id', 'type',
  ],
  deals: [...DEFAULT_PROPERTIES.deals, 'description', 'hubspot_owner_id', 'dealtype', 'hs_priority', 'hs_forecast_amount'],
};

/** Read-only properties: HubSpot refuses writes to them. */
const READ_ONLY_PROPERTIES = new Set(['hs_object_id', 'createdate', 'lastmodifieddate', 'hs_lastmodifieddate', 'hs_email_domain']);

export interface CrmRecord {
  id: string;
  properties: Map<string, string | null>;
  /** Each property's values, newest first (at most HISTORY_LIMIT), as propertiesWithHistory reads them. */
  history: Map<string, PropertyVersion[]>;
  createdAt: number;
  updatedAt: number;
  /** Updates applied to it (seeding is none): a test's count of writes per record. */
  writes: number;
}

/** Who changed a property: HubSpot's sourceType (CRM_UI for a person in HubSpot, INTEGRATION for an app's API call, IMPORT, ...). */
export interface ChangeSource {
  sourceType: string;
  sourceId?: string;
  updatedByUserId?: number;
}

/** One value of a property's history, as HubSpot answers it. */
export interface PropertyVersion extends ChangeSource {
  value: string;
  timestamp: string;
}

/** Versions of a property kept per record; older ones are dropped. */
export const HISTORY_LIMIT = 20;

export interface SeedRecord {
  id?: string | number;
  properties?: Record<string, string | number | boolean | null>;
  createdAt?: string | number | Date;
}

export interface OwnerTeam {
  id: string;
  name: string;
  primary: boolean;
}

export interface Owner {
  id: string;
  email: string;
  type: 'PERSON' | 'QUEUE';
  firstName: string;
  lastName: string;
  userId: number;
  userIdIncludingInactive: number;
  createdAt: string;
  updatedAt: string;
  archived: boolean;
  teams: OwnerTeam[];
}

export type OwnerSeed = Partial<Owner> & { email: string };

export interface PortalLimitOverrides {
  rateLimit?: number;
  dailyLimit?: number;
}

export class Portal {
  readonly objects: Record<CrmObjectType, Map<string, CrmRecord>> = { contacts: new Map(), companies: new Map(), deals: new Map() };
  readonly schema: Record<CrmObjectType, Set<string>> = {
    contacts: new Set(BUILT_IN_PROPERTIES.contacts),
    companies: new Set(BUILT_IN_PROPERTIES.companies),
    deals: new Set(BUILT_IN_PROPERTIES.deals),
  };
  owners: Owner[] = [];
  /** Property validation rules, by object type and property. */
  readonly validationRules: Record<CrmObjectType, Map<string, { pattern: RegExp; message: string }>> = {
    contacts: new Map(),
    companies: new Map(),
    deals: new Map(),
  };
  private nextObjectId = 1;

  constructor(
    readonly portalId: number,
    public limits: PortalLimitOverrides = {},
  ) {}

  allocateId(): string {
    for (;;) {
      const id = String(this.nextObjectId++);
      if (!this.objects.contacts.has(id) && !this.objects.companies.has(id) && !this.objects.deals.has(id)) return id;
    }
  }

  noteId(id: string): void {
    if (/^\d+$/.test(id) && Number(id) >= this.nextObjectId) this.nextObjectId = Number(id) + 1;
  }

  find(type: CrmObjectType, id: string, idProperty?: string): CrmRecord | undefined {
    const records = this.objects[type];
    if (!idProperty || idProperty === 'hs_object_id') return records.get(id);
    for (const record of records.values()) {
      const value = record.properties.get(idProperty);
      if (value !== null && value !== undefined && value.toLowerCase() === id.toLowerCase()) return record;
    }
    return undefined;
  }
}

/** A property write HubSpot would refuse, in the shape of its `Property values were not valid` list. */
export interface PropertyProblem {
  isValid: false;
  message: string;
  error: string;
  name: string;
  localizedErrorMessage: string;
  portalId: number;
}

export interface PropertyCheck {
  values: Map<string, string>;
  problems: PropertyProblem[];
  nonStringValues: number;
}

/** Checks and normalises a `properties` object as HubSpot does: strings stored as given, numbers and booleans as their text. */
export function checkProperties(portal: Portal, type: CrmObjectType, input: unknown, strict: boolean): PropertyCheck {
  const values = new Map<string, string>();
  const problems: PropertyProblem[] = [];
  let nonStringValues = 0;
  const problem = (name: string, error: string, message: string) =>
    problems.push({ isValid: false, message, error, name, localizedErrorMessage: message, portalId: portal.portalId });
  if (input === null || typeof input !== 'object' || Array.isArray(input)) return { values, problems, nonStringValues };
  for (const [name, raw] of Object.entries(input as Record<string, unknown>)) {
    if (READ_ONLY_PROPERTIES.has(name)) {
      problem(name, 'READ_ONLY_VALUE', `"${name}" is a read only property; its value cannot be set.`);
      continue;
    }
    if (strict && !portal.schema[type].has(name)) {
      problem(name, 'PROPERTY_DOESNT_EXIST', `Property "${name}" does not exist`);
      continue;
    }
    const rule = portal.validationRules[type].get(name);
    if (rule && raw !== null && raw !== '' && !rule.pattern.test(String(raw))) {
      problem(name, 'INVALID_PROPERTY_VALUE_VALIDATION_RULE', rule.message);
      continue;
    }
    if (typeof raw === 'string') values.set(name, raw);
    else if (typeof raw === 'number' || typeof raw === 'boolean') {
      nonStringValues++;
      values.set(name, String(raw));
    } else if (raw === null) {
      nonStringValues++;
      values.set(name, '');
    } else {
      problem(name, 'INVALID_VALUE', `${JSON.stringify(raw)} was not a valid value for property "${name}"`);
    }
  }
  return { values, problems, nonStringValues };
}

export function applyProperties(record: CrmRecord, type: CrmObjectType, values: Map<string, string>, now: number, source: ChangeSource): void {
  for (const [name, value] of values) {
    record.properties.set(name, value);
    remember(record, name, value, now, source);
  }
  record.updatedAt = now;
  record.writes++;
  record.properties.set(LAST_MODIFIED[type], new Date(now).toISOString());
}

function remember(record: CrmRecord, name: string, value: string, at: number, source: ChangeSource): void {
  const versions = record.history.get(name) ?? [];
  versions.unshift({ value, timestamp: new Date(at).toISOString(), ...source });
  if (versions.length > HISTORY_LIMIT) versions.length = HISTORY_LIMIT;
  record.history.set(name, versions);
}

export interface SimplePublicObject {
  id: string;
  properties: Record<string, string | null>;
  propertiesWithHistory?: Record<string, PropertyVersion[]>;
  createdAt: string;
  updatedAt: string;
  archived: false;
}

/**
 * A record as HubSpot answers it. With `requested`, the named properties that exist in the schema
 * (null when unset; unknown names are left out) plus the three HubSpot always adds; otherwise the
 * type's default set. With `only`, those properties plus the three (what a write answers).
 * `withHistory`: the properties (of those the schema knows) whose versions, newest first, are
 * answered in propertiesWithHistory.
 */
export function present(
  portal: Portal,
  type: CrmObjectType,
  record: CrmRecord,
  requested?: readonly string[],
  only?: Iterable<string>,
  withHistory: readonly string[] = [],
): SimplePublicObject {
  const properties: Record<string, string | null> = {};
  const names = only ? [...only] : requested && requested.length > 0 ? requested.filter((name) => portal.schema[type].has(name)) : DEFAULT_PROPERTIES[type];
  for (const name of names) properties[name] = record.properties.get(name) ?? null;
  if (only || (requested && requested.length > 0)) {
    for (const name of ['createdate', 'hs_object_id', LAST_MODIFIED[type]]) properties[name] = record.properties.get(name) ?? null;
  }
  const known = withHistory.filter((name) => portal.schema[type].has(name));
  return {
    id: record.id,
    properties,
    ...(known.length > 0 ? { propertiesWithHistory: Object.fromEntries(known.map((name) => [name, [...(record.history.get(name) ?? [])]])) } : {}),
    createdAt: new Date(record.createdAt).toISOString(),
    updatedAt: new Date(record.updatedAt).toISOString(),
    archived: false,
  };
}

export function createRecord(portal: Portal, type: CrmObjectType, seed: SeedRecord, now: number): CrmRecord {
  const id = seed.id !== undefined ? String(seed.id) : portal.allocateId();
  portal.noteId(id);
  const createdAt = seed.createdAt !== undefined ? new Date(seed.createdAt).getTime() : now;
  const record: CrmRecord = { id, properties: new Map(), history: new Map(), createdAt, updatedAt: createdAt, writes: 0 };
  for (const [name, value] of Object.entries(seed.properties ?? {})) {
    portal.schema[type].add(name);
    record.properties.set(name, value === null ? null : String(value));
    if (value !== null) remember(record, name, String(value), createdAt, { sourceType: 'IMPORT' });
  }
  record.properties.set('hs_object_id', id);
  record.properties.set('createdate', new Date(createdAt).toISOString());
  record.properties.set(LAST_MODIFIED[type], new Date(createdAt).toISOString());
  if (type === 'contacts') {
    const email = record.properties.get('email');
    if (email && email.includes('@')) record.properties.set('hs_email_domain', email.split('@')[1]);
  }
  portal.objects[type].set(id, record);
  return record;
}

// --- Plausible demo data, the same for the same seed -------------------------------------------

const FIRST_NAMES = ['Ada', 'Grace', 'Alan', 'Katherine', 'Linus', 'Margaret', 'Dennis', 'Barbara', 'Ken', 'Frances', 'Edsger', 'Radia', 'Tim', 'Hedy', 'John', 'Sophie', 'Niklaus', 'Joan', 'Donald', 'Anita'];
const LAST_NAMES = ['Lovelace', 'Hopper', 'Turing', 'Johnson', 'Torvalds', 'Hamilton', 'Ritchie', 'Liskov', 'Thompson', 'Allen', 'Dijkstra', 'Perlman', 'Berners-Lee', 'Lamarr', 'Backus', 'Wilson', 'Wirth', 'Clarke', 'Knuth', 'Borg'];
const COMPANIES = [
  ['Acme Analytics', 'acme-analytics.com', 'COMPUTER_SOFTWARE'],
  ['Northwind Traders', 'northwind.example', 'WHOLESALE'],
  ['Globex Logistics', 'globex-logistics.com', 'LOGISTICS_AND_SUPPLY_CHAIN'],
  ['Initech Systems', 'initech.io', 'INFORMATION_TECHNOLOGY_AND_SERVICES'],
  ['Umbrella Health', 'umbrella-health.org', 'HOSPITAL_HEALTH_CARE'],
  ['Stark Fabrication', 'stark-fab.com', 'MACHINERY'],
  ['Wayne Ventures', 'wayneventures.co', 'VENTURE_CAPITAL_PRIVATE_EQUITY'],
  ['Hooli Cloud', 'hooli.xyz', 'INTERNET'],
  ['Vandelay Imports', 'vandelay-imports.com', 'IMPORT_AND_EXPORT'],
  ['Soylent Foods', 'soylent-foods.net', 'FOOD_PRODUCTION'],
] as const;
const CITIES = [['Boston', 'United States'], ['Dublin', 'Ireland'], ['Berlin', 'Germany'], ['Paris', 'France'], ['Sydney', 'Australia'], ['Toronto', 'Canada'], ['Tokyo', 'Japan'], ['Singapore', 'Singapore']] as const;
const STAGES = ['subscriber', 'lead', 'marketingqualifiedlead', 'salesqualifiedlead', 'opportunity', 'customer'];
const DEAL_STAGES = ['appointmentscheduled', 'qualifiedtobuy', 'presentationscheduled', 'decisionmakerboughtin', 'contractsent', 'closedwon', 'closedlost'];

function pick<T>(list: readonly T[], index: number, salt: number): T {
  const h = createHash('sha1').update(`${salt}:${index}`).digest();
  return list[h.readUInt32BE(0) % list.length];
}

const SEED_EPOCH = Date.UTC(2024, 0, 1);

export function demoContact(index: number, seed: number): SeedRecord {
  const first = pick(FIRST_NAMES, index, seed * 31 + 1);
  const last = pick(LAST_NAMES, index, seed * 31 + 2);
  const [company, domain, industry] = pick(COMPANIES, index, seed * 31 + 3);
  const [city, country] = pick(CITIES, index, seed * 31 + 4);
  return {
    id: String(index),
    createdAt: SEED_EPOCH + index * 60_000,
    properties: {
      email: `${first}.${last}${index}@${domain}`.toLowerCase(),
      firstname: first,
      lastname: last,
      company,
      website: `https://${domain}`,
      jobtitle: pick(['Engineer', 'Head of Operations', 'CTO', 'Marketing Manager', 'Sales Director', 'Analyst'], index, seed * 31 + 5),
      phone: `+1 555 ${String(1000 + (index % 9000)).padStart(4, '0')}`,
      city,
      country,
      industry,
      lifecyclestage: pick(STAGES, index, seed * 31 + 6),
    },
  };
}

export function demoCompany(index: number, seed: number): SeedRecord {
  const [name, domain, industry] = COMPANIES[(index - 1) % COMPANIES.length];
  const [city, country] = pick(CITIES, index, seed * 37 + 1);
  const suffix = index > COMPANIES.length ? ` ${Math.ceil(index / COMPANIES.length)}` : '';
  return {
    createdAt: SEED_EPOCH + index * 60_000,
    properties: {
      name: `${name}${suffix}`,
      domain: suffix ? domain.replace('.', `${Math.ceil(index / COMPANIES.length)}.`) : domain,
      industry,
      city,
      country,
      numberofemployees: String(10 * (1 + (index % 50))),
    },
  };
}

export function demoDeal(index: number, seed: number): SeedRecord {
  const [company] = pick(COMPANIES, index, seed * 41 + 1);
  return {
    createdAt: SEED_EPOCH + index * 60_000,
    properties: {
      dealname: `${company} - ${pick(['Renewal', 'Expansion', 'New business', 'Pilot'], index, seed * 41 + 2)}`,
      amount: String(1000 * (1 + (index % 40))),
      dealstage: pick(DEAL_STAGES, index, seed * 41 + 3),
      pipeline: 'default',
      closedate: new Date(SEED_EPOCH + 90 * 86_400_000 + index * 86_400_000).toISOString(),
    },
  };
}

export function demoOwner(index: number, portalId: number, seed: number): Owner {
  const first = pick(FIRST_NAMES, index, seed * 43 + 1);
  const last = pick(LAST_NAMES, index, seed * 43 + 2);
  const at = new Date(SEED_EPOCH + index * 3_600_000).toISOString();
  const userId = 9_000_000 + index;
  return {
    id: String(100_000 + index),
    email: `${first}.${last}.${index}@portal-${portalId}.example`.toLowerCase(),
    type: 'PERSON',
    firstName: first,
    lastName: last,
    userId,
    userIdIncludingInactive: userId,
    createdAt: at,
    updatedAt: at,
    archived: false,
    teams: index % 3 === 0 ? [] : [{ id: String(500 + (index % 3)), name: index % 3 === 1 ? 'Sales' : 'Support', primary: true }],
  };
}

export function ownerFromSeed(seed: OwnerSeed, index: number, now: number): Owner {
  const at = new Date(now).toISOString();
  const userId = seed.userId ?? 9_000_000 + index;
  return {
    id: seed.id ?? String(100_000 + index),
    email: seed.email,
    type: seed.type ?? 'PERSON',
    firstName: seed.firstName ?? '',
    lastName: seed.lastName ?? '',
    userId,
    userIdIncludingInactive: seed.userIdIncludingInactive ?? userId,
    createdAt: seed.createdAt ?? at,
    updatedAt: seed.updatedAt ?? at,
    archived: seed.archived ?? false,
    teams: seed.teams ?? [],
  };
}

// --- Tokens and callbacks ----------------------------------------------------------------------

export interface AccessToken {
  token: string;
  portalId: number;
  kind: 'private_app' | 'oauth';
  /** Epoch ms (simulated clock); only OAuth access tokens expire. */
  expiresAt?: number;
  clientId?: string;
}

export interface RefreshToken {
  token: string;
  portalId: number;
  clientId: string;
}

export interface CallbackCompletion {
  callbackId: string;
  portalId: number;
  outputFields: Record<string, unknown>;
  executionState: string | null;
  /** Registered beforehand with registerCallback (the simulator accepts unknown ids too; see README). */
  known: boolean;
  /** How many times this callbackId has been completed, this one included. */
  completion: number;
  via: 'single' | 'batch';
  path: string;
  at: number;
}
