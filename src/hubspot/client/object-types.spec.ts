import { normaliseObjectType, workflowObjectType } from './object-types';

describe('normaliseObjectType', () => {
  it.each([
    ['CONTACT', 'contacts'],
    ['COMPANY', 'companies'],
    ['DEAL', 'deals'],
    ['TICKET', 'tickets'],
    ['LINE_ITEM', 'line_items'],
    ['LEAD', 'leads'],
    ['leads', 'leads'],
    ['0-136', 'leads'],
    ['0-1', 'contacts'],
    ['contact', 'contacts'],
    ['contacts', 'contacts'],
    ['Companies', 'companies'],
    [' DEAL ', 'deals'],
  ])('names the standard object %s as the API path does (%s)', (given, expected) => {
    expect(normaliseObjectType(given)).toBe(expected);
  });

  it('passes custom objects, by type id or fully qualified name, through unchanged', () => {
    expect(normaliseObjectType('2-12345')).toBe('2-12345');
    expect(normaliseObjectType('p12345_cars')).toBe('p12345_cars');
    expect(normaliseObjectType('p_Cars')).toBe('p_Cars');
  });
});

describe('workflowObjectType', () => {
  it.each([
    ['contacts', 'CONTACT'],
    ['CONTACT', 'CONTACT'],
    ['leads', 'LEAD'],
    ['0-136', 'LEAD'],
    ['line_items', 'LINE_ITEM'],
    ['2-12345', '2-12345'],
    ['p12345_cars', 'p12345_cars'],
  ])('names %s as workflows do (%s)', (given, expected) => {
    expect(workflowObjectType(given)).toBe(expected);
  });

  it('knows no object by a name HubSpot has none of', () => {
    expect(workflowObjectType('widgets')).toBeUndefined();
    expect(workflowObjectType('3-1')).toBeUndefined();
  });
});
