import { Inject, Injectable } from '@nestjs/common';
import { AppConfig } from '../../config/app-config';
import { APP_CONFIG } from '../../config/config.module';
import { HandlerRegistry } from '../../registry/handler-registry';
import { HubSpotGateway } from './hubspot-gateway';
import { normaliseObjectType } from './object-types';

/** What every install needs: completing blocked workflow steps (automation) and the OAuth flow itself. */
const BASE_SCOPES = ['oauth', 'automation'];

/** An install's result: the portal HubSpot installed the app in, and its tokens. */
export interface InstalledApp {
  hubspotPortalId: string;
  hubDomain?: string;
  scopes: string[];
  refreshToken: string;
  accessToken: string;
  expiresIn: number;
}

/** The app's credentials are not configured, so no install can be completed. */
export class AppNotConfiguredError extends Error {}

/** HubSpot refused the authorization code (expired, used, or for another redirect URI). */
export class InstallRefusedError extends Error {}

/**
 * The HubSpot calls of an app install: the scopes to ask for, and the exchange of the authorization
 * code for tokens (date-versioned OAuth through the official client), with the portal they are for.
 */
@Injectable()
export class AppInstaller {
  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly gateway: HubSpotGateway,
    private readonly registry: HandlerRegistry,
  ) {}

  /**
   * The scopes the handlers need: reading and writing each object type they run on (write-back and
   * reads), plus what each declares, plus the base.
   */
  scopes(): string[] {
    const scopes = new Set(BASE_SCOPES);
    for (const handler of this.registry.list()) {
      for (const objectType of handler.objectTypes) {
        const plural = /^(2-|p\d*_)/i.test(objectType) ? 'custom' : normaliseObjectType(objectType);
        scopes.add(`crm.objects.${plural}.read`).add(`crm.objects.${plural}.write`);
      }
      for (const scope of handler.scopes) scopes.add(scope);
    }
    return [...scopes].sort();
  }

  /** Where HubSpot asks a user to install the app: the authorize page with the client id, scopes, redirect URI and state. */
  authorizeUrl(redirectUri: string, state: string): string {
    const url = new URL(this.config.hubspotAuthorizeUrl);
    url.searchParams.set('client_id', this.credentials().clientId);
    url.searchParams.set('redirect_uri', redirectUri);
    url.searchParams.set('scope', this.scopes().join(' '));
    url.searchParams.set('state', state);
    return url.toString();
  }

  /** Exchanges an authorization code for tokens and learns the portal they are for. */
  async exchange(code: string, redirectUri: string): Promise<InstalledApp> {
    const { clientId, clientSecret } = this.credentials();
    const client = this.gateway.appClient();
    let tokens;
    try {
      tokens = await client.oauth.tokensApi.create('authorization_code', code, redirectUri, clientId, clientSecret);
    } catch (error) {
      const { code: status, body } = error as { code?: unknown; body?: { message?: string } };
      if (typeof status === 'number' && status >= 400 && status < 500) {
        throw new InstallRefusedError(`HubSpot refused the authorization code: ${body?.message ?? `HTTP ${status}`}`);
      }
      throw error;
    }
    // The token answer does not name the portal; the date-versioned introspection does. The installed
    // client has no method for it, so it goes through the client's own generic request.
    const answer = await client.apiRequest({
      method: 'POST',
      path: `/oauth/${this.config.hubspotApiVersion}/token/introspect`,
      body: new URLSearchParams({ token: tokens.accessToken, token_type_hint: 'access_token', client_id: clientId, client_secret: clientSecret }).toString(),
      defaultJson: false,
      headers: { 'Content-Type': 'application/x-www-form-urlencoded', Accept: 'application/json' },
    });
    const info = (await answer.json().catch(() => ({}))) as { active?: boolean; hub_id?: number | string; hub_domain?: string; scopes?: string[] };
    if (!answer.ok || !info.active || info.hub_id === undefined) {
      throw new Error(`HubSpot did not say which portal the new tokens are for (introspection answered ${answer.status})`);
    }
    return {
      hubspotPortalId: String(info.hub_id),
      ...(info.hub_domain ? { hubDomain: info.hub_domain } : {}),
      scopes: info.scopes ?? [],
      refreshToken: tokens.refreshToken,
      accessToken: tokens.accessToken,
      expiresIn: tokens.expiresIn,
    };
  }

  private credentials(): { clientId: string; clientSecret: string } {
    const { hubspotClientId: clientId, hubspotClientSecret: clientSecret } = this.config;
    if (!clientId || !clientSecret) throw new AppNotConfiguredError('HUBSPOT_CLIENT_ID and HUBSPOT_CLIENT_SECRET must both be set to install the app');
    return { clientId, clientSecret };
  }
}
