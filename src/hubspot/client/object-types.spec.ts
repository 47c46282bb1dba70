import { normaliseObjectType } from './object-types';

describe('normaliseObjectType', () => {
  it.each([
    ['CONTACT', 'contacts'],
    ['COMPANY', 'companies'],
    ['DEAL', 'deals'],
    ['TICKET', 'tickets'],
    ['LINE_ITEM', 'line_items'],
    ['contact', 'contacts'],
    ['contacts', 'contacts'],
    ['Companies', 'companies'],
    [' DEAL ', 'deals'],
  ])('names the standard object %s as the API path does (%s)', (given, expected) => {
    expect(normaliseObjectType(given)).toBe(expected);
  });

  it('passes type ids and custom objects through unchanged', () => {
    expect(normaliseObjectType('0-1')).toBe('0-1');
    expect(normaliseObjectType('2-12345')).toBe('2-12345');
    expect(normaliseObjectType('p_Cars')).toBe('p_Cars');
  });
});
