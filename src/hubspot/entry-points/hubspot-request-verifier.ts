import { Inject, Injectable } from '@nestjs/common';
import type { FastifyRequest } from 'fastify';
import { ApiError } from '../../common/api-error';
import { AppConfig } from '../../config/app-config';
import { APP_CONFIG } from '../../config/config.module';
import { HubSpotSignatureVersion, hubSpotRequestUri, verifyHubSpotSignature } from './request-signature';

/** Checks that a request really comes from HubSpot: its signature, made with the app's client secret, over the request as received. */
@Injectable()
export class HubSpotRequestVerifier {
  constructor(@Inject(APP_CONFIG) private readonly config: AppConfig) {}

  /** 401 when the signature is missing, wrong, stale or of a version not accepted; 503 when no client secret is configured. */
  verify(request: FastifyRequest, accepted: HubSpotSignatureVersion[]): void {
    const clientSecret = this.config.hubspotClientSecret;
    if (!clientSecret) {
      throw new ApiError(503, 'unavailable', 'HUBSPOT_CLIENT_SECRET is not set, so requests signed by HubSpot cannot be verified');
    }
    const check = verifyHubSpotSignature({
      method: request.method,
      uri: hubSpotRequestUri({ url: request.url, headers: request.headers, protocol: request.protocol }, this.config.publicBaseUrl),
      rawBody: request.rawBody,
      headers: request.headers,
      clientSecret,
    });
    if (!check.ok) throw ApiError.unauthorized(`The HubSpot request signature is not valid (${check.reason.replace(/_/g, ' ')})`);
    if (!accepted.includes(check.version)) {
      throw ApiError.unauthorized(`A ${check.version} HubSpot signature is not accepted here; expected ${accepted.join(' or ')}`);
    }
  }
}
