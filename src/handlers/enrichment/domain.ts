const LABEL = /^(?!-)[a-z0-9-]{1,63}(?<!-)$/;
const TOP_LEVEL = /^(?:[a-z]{2,63}|xn--[a-z0-9-]{1,59})$/;
const IPV4 = /^\d{1,3}(?:\.\d{1,3}){3}$/;

export class InvalidDomainError extends Error {}

/**
 * The registrable host a company is known by, from what a CRM holds: a bare domain ("Acme.com"), a
 * host ("www.acme.com.") or a website URL ("https://www.acme.com/about?x=1"). Lower-cased, IDNs in
 * punycode, "www." dropped. IP addresses, single labels and anything but http(s) are refused: they
 * name no company.
 */
export function normaliseDomain(raw: string): string {
  const text = raw.trim();
  if (text === '') throw new InvalidDomainError('the domain is empty');
  if (/\s/.test(text)) throw new InvalidDomainError(`"${raw}" is not a domain or website: it contains spaces`);
  const hasScheme = /^[a-z][a-z0-9+.-]*:\/\//i.test(text);
  if (hasScheme && !/^https?:\/\//i.test(text)) {
    throw new InvalidDomainError(`"${raw}" is not a website: only http and https addresses name a company`);
  }
  let host: string;
  try {
    host = new URL(hasScheme ? text : `http://${text}`).hostname;
  } catch {
    throw new InvalidDomainError(`"${raw}" is not a domain or website`);
  }
  host = host.replace(/\.$/, '').replace(/^www\./, '');
  if (host.startsWith('[') || IPV4.test(host)) throw new InvalidDomainError(`"${raw}" is an IP address, not a company's domain`);
  if (host.length > 253) throw new InvalidDomainError(`"${raw}" is longer than a domain can be`);
  const labels = host.split('.');
  if (labels.length < 2) throw new InvalidDomainError(`"${raw}" has no top-level domain`);
  if (!labels.every((label) => LABEL.test(label)) || !TOP_LEVEL.test(labels[labels.length - 1])) {
    throw new InvalidDomainError(`"${raw}" is not a valid domain`);
  }
  return host;
}

/** The domain part of an email address, normalised; undefined when the address has none that is valid. */
export function emailDomain(email: string): string | undefined {
  const at = email.lastIndexOf('@');
  if (at <= 0) return undefined;
  try {
    return normaliseDomain(email.slice(at + 1));
  } catch {
    return undefined;
  }
}
