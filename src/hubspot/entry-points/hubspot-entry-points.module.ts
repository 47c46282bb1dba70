import { Module } from '@nestjs/common';
import { JobsModule } from '../../jobs/jobs.module';
import { PortalsCoreModule } from '../../portals/portals-core.module';
import { RedisModule } from '../../redis/redis.module';
import { HubSpotClientModule } from '../client/hubspot-client.module';
import { HubSpotActionsController } from './hubspot-actions.controller';
import { HubSpotOAuthController } from './hubspot-oauth.controller';
import { HubSpotRequestVerifier } from './hubspot-request-verifier';
import { HubSpotWebhooksController } from './hubspot-webhooks.controller';

/** The HTTP endpoints HubSpot itself calls: custom workflow actions, the "send a webhook" action, and the app's install. */
@Module({
  imports: [JobsModule, PortalsCoreModule, HubSpotClientModule, RedisModule],
  controllers: [HubSpotActionsController, HubSpotWebhooksController, HubSpotOAuthController],
  providers: [HubSpotRequestVerifier],
})
export class HubSpotEntryPointsModule {}
