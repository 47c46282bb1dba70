import { randomBytes } from 'node:crypto';
import type { HttpAnswer } from '../common';

/** The developer API key the action definition endpoints take (`?hapikey=`), unless the simulator is given another. */
export const DEFAULT_DEVELOPER_API_KEY = 'sim-developer-key';

/** An authorization code HubSpot's authorize page hands the app's redirect URI once a user installs it in a portal. */
interface AuthorizationCode {
  portalId: number;
  clientId: string;
  redirectUri: string;
  scopes: string[];
}

/** A custom workflow action definition as HubSpot keeps it for an app. */
export interface StoredDefinition extends Record<string, unknown> {
  id: string;
  revisionId: string;
}

/** The fields HubSpot requires of a definition it creates (PublicActionDefinitionEgg). */
const REQUIRED_DEFINITION_FIELDS = ['actionUrl', 'inputFields', 'labels', 'objectTypes', 'published', 'functions'] as const;

function isObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

/**
 * The app side of HubSpot: its authorize page (a user installs the app in a portal and HubSpot
 * redirects with a code), uninstalls, and the app's custom workflow action definitions.
 */
export class AppPlatform {
  private readonly codes = new Map<string, AuthorizationCode>();
  /** Portals the app is installed in, by client id, with the scopes granted. */
  readonly installs = new Map<string, Map<number, string[]>>();
  /** Definitions by app id. */
  readonly definitions = new Map<string, StoredDefinition[]>();
  private nextDefinitionId = 1_000;

  constructor(
    private readonly developerApiKey: string,
    private readonly oauthClients: Map<string, string>,
    private readonly hasPortal: (portalId: number) => boolean,
  ) {}

  /**
   * What the authorize page does once the user picks a portal (`portalId`, the first portal when
   * absent) and accepts: a redirect to the app's redirect URI with a code and the state it was given.
   */
  authorize(query: URLSearchParams, defaultPortalId: number): HttpAnswer {
    const clientId = query.get('client_id') ?? '';
    const redirectUri = query.get('redirect_uri') ?? '';
    const portalId = Number(query.get('portalId') ?? defaultPortalId);
    if (!this.oauthClients.has(clientId)) return { status: 400, body: { status: 'BAD_CLIENT_ID', message: 'unknown client_id' } };
    if (!/^https?:\/\//.test(redirectUri)) return { status: 400, body: { status: 'BAD_REDIRECT_URI', message: 'redirect_uri must be an http(s) URL' } };
    if (!this.hasPortal(portalId)) return { status: 400, body: { status: 'BAD_PORTAL', message: `unknown portal ${portalId}` } };
    const scopes = (query.get('scope') ?? '').split(/[ +]/).filter(Boolean);
    const code = `sim-code-${randomBytes(8).toString('hex')}`;
    this.codes.set(code, { portalId, clientId, redirectUri, scopes });
    const target = new URL(redirectUri);
    target.searchParams.set('code', code);
    const state = query.get('state');
    if (state !== null) target.searchParams.set('state', state);
    return { status: 302, headers: { Location: target.toString() } };
  }

  /** Takes an authorization code for its portal once; undefined when the code, client or redirect URI do not match. */
  redeem(code: string, clientId: string, redirectUri: string): AuthorizationCode | undefined {
    const grant = this.codes.get(code);
    if (!grant || grant.clientId !== clientId || grant.redirectUri !== redirectUri) return undefined;
    this.codes.delete(code);
    const installs = this.installs.get(clientId) ?? new Map<number, string[]>();
    installs.set(grant.portalId, grant.scopes);
    this.installs.set(clientId, installs);
    return grant;
  }

  scopesOf(clientId: string, portalId: number): string[] {
    return this.installs.get(clientId)?.get(portalId) ?? [];
  }

  // --- Action definitions ----------------------------------------------------------------------

  /** 401 unless the call carries the developer API key. */
  checkDeveloperKey(query: URLSearchParams, correlationId: string): HttpAnswer | null {
    if (query.get('hapikey') === this.developerApiKey) return null;
    return { status: 401, body: { status: 'error', message: 'The developer API key is missing or invalid', correlationId, category: 'INVALID_AUTHENTICATION' } };
  }

  listDefinitions(appId: string): HttpAnswer {
    return { status: 200, body: { results: this.definitions.get(appId) ?? [] } };
  }

  createDefinition(appId: string, body: unknown, correlationId: string): HttpAnswer {
    const problem = definitionProblem(body, true);
    if (problem) return { status: 400, body: { status: 'error', message: problem, correlationId, category: 'VALIDATION_ERROR' } };
    const stored: StoredDefinition = { ...(body as Record<string, unknown>), id: String(this.nextDefinitionId++), revisionId: '1' };
    this.definitions.set(appId, [...(this.definitions.get(appId) ?? []), stored]);
    return { status: 201, body: stored };
  }

  updateDefinition(appId: string, definitionId: string, body: unknown, correlationId: string): HttpAnswer {
    const list = this.definitions.get(appId) ?? [];
    const index = list.findIndex((definition) => definition.id === definitionId);
    if (index === -1) return { status: 404, body: { status: 'error', message: `No action definition ${definitionId} for app ${appId}`, correlationId, category: 'OBJECT_NOT_FOUND' } };
    const problem = definitionProblem(body, false);
    if (problem) return { status: 400, body: { status: 'error', message: problem, correlationId, category: 'VALIDATION_ERROR' } };
    const updated: StoredDefinition = { ...list[index], ...(body as Record<string, unknown>), id: definitionId, revisionId: String(Number(list[index].revisionId) + 1) };
    list[index] = updated;
    return { status: 200, body: updated };
  }
}

/** What HubSpot would refuse in a definition: a missing required field, an input or output without a name and type, no English labels. */
function definitionProblem(body: unknown, creating: boolean): string | null {
  if (!isObject(body)) return 'Invalid input JSON: the definition must be an object';
  if (creating) {
    const missing = REQUIRED_DEFINITION_FIELDS.filter((field) => body[field] === undefined);
    if (missing.length > 0) return `Invalid input JSON: missing required fields ${missing.join(', ')}`;
  }
  for (const list of ['inputFields', 'outputFields'] as const) {
    const fields = body[list];
    if (fields === undefined) continue;
    if (!Array.isArray(fields)) return `${list} must be a list`;
    for (const [index, field] of fields.entries()) {
      const definition = isObject(field) ? field.typeDefinition : undefined;
      if (!isObject(definition) || typeof definition.name !== 'string' || typeof definition.type !== 'string') {
        return `${list}[${index}].typeDefinition needs a name and a type`;
      }
    }
  }
  if (body.labels !== undefined && (!isObject(body.labels) || !isObject(body.labels.en) || typeof body.labels.en.actionName !== 'string')) {
    return 'labels.en.actionName is required';
  }
  return null;
}
