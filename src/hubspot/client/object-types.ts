/**
 * HubSpot's standard objects: the singular name workflow requests and action definitions use
 * (CONTACT, LEAD), the plural the CRM API's paths take, and the type id either accepts.
 */
const STANDARD_OBJECTS: ReadonlyArray<readonly [singular: string, plural: string, typeId: string]> = [
  ['contact', 'contacts', '0-1'],
  ['company', 'companies', '0-2'],
  ['deal', 'deals', '0-3'],
  ['ticket', 'tickets', '0-5'],
  ['product', 'products', '0-7'],
  ['line_item', 'line_items', '0-8'],
  ['quote', 'quotes', '0-14'],
  ['communication', 'communications', '0-18'],
  ['feedback_submission', 'feedback_submissions', '0-19'],
  ['task', 'tasks', '0-27'],
  ['note', 'notes', '0-46'],
  ['meeting', 'meetings', '0-47'],
  ['call', 'calls', '0-48'],
  ['email', 'emails', '0-49'],
  ['invoice', 'invoices', '0-53'],
  ['subscription', 'subscriptions', '0-69'],
  ['payment', 'payments', '0-101'],
  ['postal_mail', 'postal_mail', '0-116'],
  ['order', 'orders', '0-123'],
  ['lead', 'leads', '0-136'],
  ['cart', 'carts', '0-142'],
  ['service', 'services', '0-162'],
  ['course', 'courses', '0-410'],
  ['listing', 'listings', '0-420'],
  ['appointment', 'appointments', '0-421'],
];
const PLURAL_BY_NAME = new Map<string, string>(STANDARD_OBJECTS.flatMap(([singular, plural, typeId]) => [[singular, plural], [plural, plural], [typeId, plural]]));
const SINGULAR_BY_NAME = new Map<string, string>(STANDARD_OBJECTS.flatMap(([singular, plural, typeId]) => [[singular, singular], [plural, singular], [typeId, singular]]));

/** A custom object's type id (2-12345), or its fully qualified name (p12345_cars, p_cars). */
const CUSTOM_OBJECT = /^(2-\d{1,12}|p\d*_[a-z][a-z0-9_]{0,62})$/i;

/**
 * The object type as the CRM API's paths take it: a standard object's plural name (CONTACT ->
 * contacts, LEAD or 0-136 -> leads). Custom objects (2-12345, p12345_cars) and anything else pass
 * through unchanged, for HubSpot to judge.
 */
export function normaliseObjectType(objectType: string): string {
  const name = objectType.trim();
  return PLURAL_BY_NAME.get(name.toLowerCase()) ?? name;
}

/**
 * The object type as workflows and action definitions name it: a standard object's singular name
 * in capitals (contacts -> CONTACT, 0-136 -> LEAD); a custom object as given. Undefined for a name
 * HubSpot has no object of.
 */
export function workflowObjectType(objectType: string): string | undefined {
  const name = objectType.trim();
  const singular = SINGULAR_BY_NAME.get(name.toLowerCase());
  if (singular) return singular.toUpperCase();
  return CUSTOM_OBJECT.test(name) ? name : undefined;
}
