import { createHash } from 'node:crypto';
import { emailDomain } from '../../../src/handlers/enrichment/domain';

/** PDL's canonical company sizes, smallest first. */
export const COMPANY_SIZES = ['1-10', '11-50', '51-200', '201-500', '501-1000', '1001-5000', '5001-10000', '10001+'] as const;

/** PDL's canonical inferred revenue ranges, smallest first. */
export const REVENUE_RANGES = [
  '$0-$1M',
  '$1M-$10M',
  '$10M-$25M',
  '$25M-$50M',
  '$50M-$100M',
  '$100M-$250M',
  '$250M-$500M',
  '$500M-$1B',
  '$1B-$10B',
  '$10B+',
] as const;

const INDUSTRIES = [
  'computer software',
  'information technology and services',
  'internet',
  'financial services',
  'hospital & health care',
  'marketing and advertising',
  'retail',
  'construction',
  'management consulting',
  'real estate',
  'staffing and recruiting',
  'education management',
  'telecommunications',
  'logistics and supply chain',
  'insurance',
  'biotechnology',
];

const PLACES: Array<{ country: string; continent: string; region: string; locality: string }> = [
  { country: 'united states', continent: 'north america', region: 'california', locality: 'san francisco' },
  { country: 'united states', continent: 'north america', region: 'new york', locality: 'new york' },
  { country: 'united states', continent: 'north america', region: 'massachusetts', locality: 'boston' },
  { country: 'united kingdom', continent: 'europe', region: 'england', locality: 'london' },
  { country: 'germany', continent: 'europe', region: 'berlin', locality: 'berlin' },
  { country: 'france', continent: 'europe', region: 'ile-de-france', locality: 'paris' },
  { country: 'canada', continent: 'north america', region: 'ontario', locality: 'toronto' },
  { country: 'australia', continent: 'oceania', region: 'new south wales', locality: 'sydney' },
  { country: 'india', continent: 'asia', region: 'karnataka', locality: 'bengaluru' },
  { country: 'netherlands', continent: 'europe', region: 'north holland', locality: 'amsterdam' },
];

/** Addresses at these domains belong to people, not to the companies they work for. */
const FREE_MAIL_DOMAINS = new Set(['gmail.com', 'googlemail.com', 'yahoo.com', 'hotmail.com', 'outlook.com', 'icloud.com', 'aol.com', 'proton.me', 'gmx.de']);

/** A company as PDL's Company Enrichment API answers it (its fields are top-level; unknown ones are null). */
export type CompanyRecord = Record<string, unknown> & {
  id: string;
  name: string;
  website: string;
  likelihood: number;
};

function digest(text: string): Buffer {
  return createHash('sha256').update(text).digest();
}

function pick<T>(list: readonly T[], byte: number): T {
  return list[byte % list.length];
}

function titleCase(text: string): string {
  return text.replace(/(^|[\s-])([a-z])/g, (_, separator: string, letter: string) => `${separator}${letter.toUpperCase()}`);
}

/**
 * A plausible company for any domain, the same every time for the same domain: fields come from
 * the SHA-256 of the domain. About one company in eight has no inferred revenue, one in eleven no
 * industry and one in thirteen no location, so that unknown values occur as they do in PDL's data.
 */
export function companyForDomain(domain: string): CompanyRecord {
  const h = digest(domain);
  const label = domain.split('.')[0];
  const name = label.replace(/-/g, ' ');
  const sizeIndex = h[0] % COMPANY_SIZES.length;
  const size = COMPANY_SIZES[sizeIndex];
  const [low, high] = size === '10001+' ? [10_001, 250_000] : size.split('-').map(Number);
  const employeeCount = low + (h.readUInt32BE(1) % (high - low + 1));
  const revenueIndex = Math.min(REVENUE_RANGES.length - 1, sizeIndex + (h[5] % 3));
  const place = pick(PLACES, h[6]);
  const hasLocation = h[7] % 13 !== 0;
  const id = h.subarray(8, 29).toString('base64url').slice(0, 28);
  return {
    id,
    name,
    display_name: titleCase(name),
    size,
    employee_count: employeeCount,
    founded: 1950 + (h[29] % 74),
    industry: h[30] % 11 === 0 ? null : pick(INDUSTRIES, h[31]),
    location: hasLocation
      ? {
          name: `${place.locality}, ${place.region}, ${place.country}`,
          locality: place.locality,
          region: place.region,
          metro: null,
          country: place.country,
          continent: place.continent,
          street_address: `${1 + (h[12] % 900)} market street`,
          address_line_2: null,
          postal_code: String(10_000 + h.readUInt16BE(13)),
          geo: null,
        }
      : null,
    linkedin_id: String(h.readUInt32BE(16)),
    linkedin_url: `linkedin.com/company/${label}`,
    linkedin_slug: label,
    facebook_url: null,
    twitter_url: null,
    profiles: [`linkedin.com/company/${label}`],
    website: domain,
    ticker: null,
    type: 'private',
    summary: null,
    tags: [],
    headline: null,
    alternative_names: [],
    alternative_domains: [],
    affiliated_profiles: [],
    inferred_revenue: h[20] % 8 === 0 ? null : REVENUE_RANGES[revenueIndex],
    dataset_version: '31.0',
    likelihood: 6 + (h[21] % 5),
  };
}

/** A plausible person for an email address; their employer is the company of the address's domain. */
export function personForEmail(email: string, companyOf: (domain: string) => CompanyRecord | undefined): Record<string, unknown> | undefined {
  const domain = emailDomain(email);
  if (!domain) return undefined;
  const local = email.slice(0, email.lastIndexOf('@')).toLowerCase();
  const [first, last = ''] = local.split(/[._-]/);
  const company = FREE_MAIL_DOMAINS.has(domain) ? undefined : companyOf(domain);
  const location = company?.location as Record<string, unknown> | null | undefined;
  const h = digest(email.toLowerCase());
  return {
    id: h.subarray(0, 21).toString('base64url').slice(0, 28),
    full_name: `${first} ${last}`.trim(),
    first_name: first,
    last_name: last || null,
    work_email: company ? email.toLowerCase() : null,
    job_title: company ? pick(['account executive', 'engineer', 'marketing manager', 'founder', 'analyst'], h[21]) : null,
    job_company_id: company?.id ?? null,
    job_company_name: company?.name ?? null,
    job_company_website: company?.website ?? null,
    job_company_industry: company?.industry ?? null,
    job_company_size: company?.size ?? null,
    job_company_employee_count: company?.employee_count ?? null,
    job_company_inferred_revenue: company?.inferred_revenue ?? null,
    job_company_location_country: location?.country ?? null,
    location_country: location?.country ?? null,
  };
}
