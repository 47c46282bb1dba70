import { Module } from '@nestjs/common';
import { JobsModule } from '../../jobs/jobs.module';
import { PortalsCoreModule } from '../../portals/portals-core.module';
import { HubSpotClientModule } from '../client/hubspot-client.module';
import { HubSpotActionsController } from './hubspot-actions.controller';
import { HubSpotRequestVerifier } from './hubspot-request-verifier';
import { HubSpotWebhooksController } from './hubspot-webhooks.controller';

/** The HTTP endpoints HubSpot itself calls: custom workflow actions and the "send a webhook" action. */
@Module({
  imports: [JobsModule, PortalsCoreModule, HubSpotClientModule],
  controllers: [HubSpotActionsController, HubSpotWebhooksController],
  providers: [HubSpotRequestVerifier],
})
export class HubSpotEntryPointsModule {}
