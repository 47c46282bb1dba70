import { apiVersionMiddleware, datedPath } from './api-version';

describe('datedPath', () => {
  it.each([
    ['/crm/v3/objects/contacts/batch/read', '/crm/objects/2026-03/contacts/batch/read'],
    ['/crm/v3/objects/2-12345/batch/update', '/crm/objects/2026-03/2-12345/batch/update'],
    ['/crm/v3/owners/', '/crm/owners/2026-03'],
    ['/crm/v3/owners/42', '/crm/owners/2026-03/42'],
    ['/automation/v4/actions/callbacks/complete', '/automation/actions/callbacks/2026-03/complete'],
    ['/automation/v4/actions/callbacks/ap-1-2-3/complete', '/automation/actions/callbacks/2026-03/ap-1-2-3/complete'],
    ['/automation/v4/actions/987', '/automation/actions/2026-03/987'],
    ['/oauth/v1/token', '/oauth/2026-03/token'],
  ])('sends %s to %s', (legacy, dated) => {
    expect(datedPath(legacy, '2026-03')).toBe(dated);
  });

  it('leaves paths without a dated twin alone', () => {
    expect(datedPath('/oauth/v1/access-tokens/abc', '2026-03')).toBe('/oauth/v1/access-tokens/abc');
    expect(datedPath('/crm/objects/2026-03/contacts/batch/read', '2026-03')).toBe('/crm/objects/2026-03/contacts/batch/read');
  });

  it('rewrites the URL of a client request, keeping its host and query', () => {
    let url = 'http://127.0.0.1:4010/crm/v3/owners/?limit=500&archived=false';
    apiVersionMiddleware('2025-09').pre({ getUrl: () => url, setUrl: (next: string) => (url = next) });
    expect(url).toBe('http://127.0.0.1:4010/crm/owners/2025-09?limit=500&archived=false');
  });
});
