/**
 * The official client's v1 to v4 paths of the calls Offload makes, and the date-versioned paths that
 * replace them (HubSpot ends support for v4 on 2027-03-30 and for v1 to v3 in September 2027). The
 * request and answer bodies of these calls are the same under both.
 */
const DATED: Array<[RegExp, (version: string) => string]> = [
  [/^\/crm\/v3\/objects\//, (version) => `/crm/objects/${version}/`],
  // The client lists owners at `/crm/v3/owners/`; the dated list has no trailing slash.
  [/^\/crm\/v3\/owners\/?$/, (version) => `/crm/owners/${version}`],
  [/^\/crm\/v3\/owners\//, (version) => `/crm/owners/${version}/`],
  [/^\/automation\/v4\/actions\/callbacks\//, (version) => `/automation/actions/callbacks/${version}/`],
  [/^\/automation\/v4\/actions\//, (version) => `/automation/actions/${version}/`],
  [/^\/oauth\/v1\/token$/, (version) => `/oauth/${version}/token`],
];

/** A request path (without its query) as the date version names it; a path with no dated twin is left as it is. */
export function datedPath(path: string, version: string): string {
  for (const [legacy, dated] of DATED) {
    if (legacy.test(path)) return path.replace(legacy, dated(version));
  }
  return path;
}

interface UrlContext {
  getUrl(): string;
  setUrl(url: string): void;
}

/** Client middleware that sends every call to its date-versioned path. */
export function apiVersionMiddleware(version: string) {
  return {
    pre: <C>(context: C): C => {
      const request = context as UrlContext;
      const url = new URL(request.getUrl());
      const path = datedPath(url.pathname, version);
      if (path !== url.pathname) {
        url.pathname = path;
        request.setUrl(url.toString());
      }
      return context;
    },
    post: <C>(context: C): C => context,
  };
}
