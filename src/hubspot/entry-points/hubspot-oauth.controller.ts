import { Controller, Get, Inject, Query, Req, Res } from '@nestjs/common';
import { ApiOperation, ApiQuery, ApiResponse, ApiTags } from '@nestjs/swagger';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { ApiError } from '../../common/api-error';
import { NotFoundError } from '../../common/domain-errors';
import { AppConfig } from '../../config/app-config';
import { APP_CONFIG } from '../../config/config.module';
import { OFFLOAD_ACTOR } from '../../jobs/admin-audit';
import { PortalPauses } from '../../portals/portal-pauses.service';
import { PortalsService } from '../../portals/portals.service';
import { RedisService } from '../../redis/redis.service';
import { AppInstaller, AppNotConfiguredError, InstalledApp, InstallRefusedError } from '../client/app-install';
import { OAuthStates, STATE_TTL_MS } from './oauth-state';
import { hubSpotRequestUri } from './request-signature';

const CALLBACK_PATH = '/v1/hubspot/oauth/callback';
const NONCE_COOKIE = 'offload_hubspot_install';

/**
 * Installing the HubSpot app in a portal (OAuth authorization code). The install redirects to
 * HubSpot's authorize page with the scopes the handlers need; HubSpot sends the user back to the
 * callback, which exchanges the code for tokens and creates the portal, or gives an existing one
 * its new tokens and resumes it if an uninstall had paused it.
 */
@ApiTags('hubspot')
@Controller('v1/hubspot/oauth')
export class HubSpotOAuthController {
  private readonly states: OAuthStates;

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly installer: AppInstaller,
    private readonly portals: PortalsService,
    private readonly pauses: PortalPauses,
    private readonly redis: RedisService,
  ) {
    // Signed with the newest key: a state lives minutes, so a rotation costs at most an install begun just before it.
    this.states = new OAuthStates(config.encryptionKeys[0]);
  }

  @Get('install')
  @ApiOperation({
    summary: "Install the app in a HubSpot portal: redirects to HubSpot's authorize page",
    description:
      'Answers 302 to HUBSPOT_AUTHORIZE_URL with the app client id, the scopes the handlers need, the callback as ' +
      'redirect_uri and a signed, single-use state that the browser must bring back (a cookie ties it to this browser).',
  })
  @ApiResponse({ status: 302, description: "To HubSpot's authorize page" })
  @ApiResponse({ status: 503, description: 'HUBSPOT_CLIENT_ID and HUBSPOT_CLIENT_SECRET are not both set' })
  install(@Req() request: FastifyRequest, @Res() reply: FastifyReply): void {
    const { state, nonce } = this.states.issue();
    const location = this.authorizeUrl(request, state);
    const secure = this.callbackUri(request).startsWith('https:') ? '; Secure' : '';
    void reply
      .header('set-cookie', `${NONCE_COOKIE}=${nonce}; Path=/v1/hubspot/oauth; Max-Age=${STATE_TTL_MS / 1000}; HttpOnly; SameSite=Lax${secure}`)
      .header('cache-control', 'no-store')
      .redirect(location, 302);
  }

  @Get('callback')
  @ApiOperation({
    summary: 'Where HubSpot sends the user back after the install: exchanges the code and creates or updates the portal',
    description:
      'The state must be one this Offload issued, unused, under 10 minutes old, from the browser that started the install. ' +
      "A new portal is answered with its first API key, shown only this once; an existing portal gets the new tokens, and " +
      'its work resumes if an uninstall paused it.',
  })
  @ApiQuery({ name: 'code', required: false })
  @ApiQuery({ name: 'state', required: false })
  @ApiQuery({ name: 'error', required: false, description: 'Set by HubSpot when the user declined' })
  @ApiResponse({ status: 200, description: '{portal, apiKey?, created, resumed}' })
  @ApiResponse({ status: 400, description: 'A forged, reused, expired or foreign state; no code; or HubSpot refused the code' })
  async callback(@Req() request: FastifyRequest, @Query() query: Record<string, unknown>, @Res({ passthrough: true }) reply: FastifyReply) {
    const text = (name: string) => (typeof query[name] === 'string' ? (query[name] as string) : undefined);
    const refusedBy = text('error');
    if (refusedBy) throw ApiError.validation([{ path: 'error', message: `HubSpot did not install the app: ${text('error_description') ?? refusedBy}` }]);
    const state = text('state');
    const problem = this.states.problem(state, cookie(request.headers.cookie, NONCE_COOKIE));
    if (problem) throw ApiError.validation([{ path: 'state', message: problem }]);
    const code = text('code');
    if (!code) throw ApiError.validation([{ path: 'code', message: 'is required' }]);
    const first = await this.redis.client.set(this.redis.key('hubspot-oauth-state', state!), '1', 'PX', STATE_TTL_MS, 'NX');
    if (first !== 'OK') throw ApiError.validation([{ path: 'state', message: 'was used already; start the install again' }]);

    let installed: InstalledApp;
    try {
      installed = await this.installer.exchange(code, this.callbackUri(request));
    } catch (error) {
      if (error instanceof InstallRefusedError) throw ApiError.validation([{ path: 'code', message: error.message }]);
      if (error instanceof AppNotConfiguredError) throw new ApiError(503, 'unavailable', error.message);
      throw new ApiError(503, 'unavailable', `HubSpot did not complete the install; start it again: ${(error as Error)?.message ?? error}`);
    }
    void reply.header('set-cookie', `${NONCE_COOKIE}=; Path=/v1/hubspot/oauth; Max-Age=0; HttpOnly; SameSite=Lax`).header('cache-control', 'no-store');
    return this.connect(installed);
  }

  /** Creates the portal of the install, or gives the existing one its new tokens and resumes it. */
  private async connect(installed: InstalledApp) {
    const hubspotOAuth = { refreshToken: installed.refreshToken, accessToken: installed.accessToken, expiresIn: installed.expiresIn };
    const existing = await this.portals.findByHubSpotPortalId(installed.hubspotPortalId).catch((error: unknown) => {
      if (error instanceof NotFoundError) return undefined;
      throw error;
    });
    if (!existing) {
      const name = installed.hubDomain ?? `HubSpot account ${installed.hubspotPortalId}`;
      const { portal, apiKey } = await this.portals.create({ hubspotPortalId: Number(installed.hubspotPortalId), name, hubspotOAuth });
      return { portal: installView(portal.id, installed, 'active'), apiKey, created: true, resumed: false };
    }
    await this.portals.update(existing.id, { hubspotOAuth });
    // Only the pause the uninstall made ends: pauses of single job types are an admin's to end.
    const { done } = await this.pauses.resume(existing.id, { actor: OFFLOAD_ACTOR, reason: 'the app was installed again', portalOnly: true });
    const resumed = done > 0;
    return { portal: installView(existing.id, installed, 'active'), created: false, resumed };
  }

  private callbackUri(request: FastifyRequest): string {
    const here = new URL(hubSpotRequestUri({ url: request.url, headers: request.headers, protocol: request.protocol }, this.config.publicBaseUrl));
    const base = this.config.publicBaseUrl ? this.config.publicBaseUrl.replace(/\/+$/, '') : here.origin;
    return `${base}${CALLBACK_PATH}`;
  }

  private authorizeUrl(request: FastifyRequest, state: string): string {
    try {
      return this.installer.authorizeUrl(this.callbackUri(request), state);
    } catch (error) {
      if (error instanceof AppNotConfiguredError) throw new ApiError(503, 'unavailable', error.message);
      throw error;
    }
  }
}

function installView(id: string, installed: InstalledApp, status: 'active') {
  return { id, hubspotPortalId: Number(installed.hubspotPortalId), status, scopes: installed.scopes };
}

function cookie(header: string | undefined, name: string): string | undefined {
  for (const part of (header ?? '').split(';')) {
    const [key, ...value] = part.trim().split('=');
    if (key === name) return value.join('=');
  }
  return undefined;
}
