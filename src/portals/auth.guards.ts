import { CanActivate, createParamDecorator, ExecutionContext, Inject, Injectable } from '@nestjs/common';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { ApiError } from '../common/api-error';
import { ADMIN_CHALLENGE, adminTokenOf, bearerToken, secretsEqual } from '../common/bearer-token';
import { AppConfig } from '../config/app-config';
import { APP_CONFIG } from '../config/config.module';
import { AuthenticatedPortal, PortalsService } from './portals.service';

type PortalRequest = FastifyRequest & { portal?: AuthenticatedPortal };

@Injectable()
export class AdminGuard implements CanActivate {
  constructor(@Inject(APP_CONFIG) private readonly config: AppConfig) {}

  canActivate(context: ExecutionContext): boolean {
    const http = context.switchToHttp();
    const token = adminTokenOf(http.getRequest<FastifyRequest>());
    if (!token || !this.config.adminToken || !secretsEqual(token, this.config.adminToken)) {
      // The ops page calls the admin API from a browser, which answers this with the Basic login it used for the page.
      void http.getResponse<FastifyReply>().header('www-authenticate', ADMIN_CHALLENGE);
      throw ApiError.unauthorized('The admin bearer token is missing or wrong');
    }
    return true;
  }
}

/** Workflow calls: a portal API key as the bearer token; the portal becomes the request's scope. */
@Injectable()
export class PortalKeyGuard implements CanActivate {
  constructor(private readonly portals: PortalsService) {}

  async canActivate(context: ExecutionContext): Promise<boolean> {
    const request = context.switchToHttp().getRequest<PortalRequest>();
    const token = bearerToken(request);
    const portal = token ? await this.portals.authenticate(token) : undefined;
    if (!portal) throw ApiError.unauthorized('The portal API key is missing, unknown or revoked');
    request.portal = portal;
    return true;
  }
}

export const CurrentPortal = createParamDecorator(
  (_: unknown, context: ExecutionContext) => context.switchToHttp().getRequest<PortalRequest>().portal!,
);
