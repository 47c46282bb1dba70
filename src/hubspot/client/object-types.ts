/** HubSpot's standard objects by singular name (as workflow requests give them: CONTACT) -> API path name. */
const STANDARD_OBJECTS: Record<string, string> = {
  contact: 'contacts',
  company: 'companies',
  deal: 'deals',
  ticket: 'tickets',
  line_item: 'line_items',
  product: 'products',
  quote: 'quotes',
  call: 'calls',
  email: 'emails',
  meeting: 'meetings',
  note: 'notes',
  task: 'tasks',
};
const PLURALS = new Set(Object.values(STANDARD_OBJECTS));

/**
 * The object type as the CRM API's paths take it: a standard object's plural name (CONTACT ->
 * contacts). Type ids (0-1, 2-12345) and custom object names pass through unchanged.
 */
export function normaliseObjectType(objectType: string): string {
  const name = objectType.trim();
  const lower = name.toLowerCase();
  return STANDARD_OBJECTS[lower] ?? (PLURALS.has(lower) ? lower : name);
}
