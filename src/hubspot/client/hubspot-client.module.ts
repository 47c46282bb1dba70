import { Module } from '@nestjs/common';
import { JobsCoreModule } from '../../jobs/jobs-core.module';
import { MetricsModule } from '../../metrics/metrics.module';
import { PortalsCoreModule } from '../../portals/portals-core.module';
import { RedisModule } from '../../redis/redis.module';
import { RegistryModule } from '../../registry/registry.module';
import { AppInstaller } from './app-install';
import { HubSpotGateway } from './hubspot-gateway';
import { JobHubSpotFactory } from './job-hubspot';
import { WorkflowStepCompleter } from './workflow-step-completer';
import { WritebackReverter } from './writeback-reverter';
import { WritebackWriter } from './writeback-writer';

/**
 * Every call Offload makes to HubSpot: the gateway (client, shared budget, retries), write-back (and its reverts),
 * handlers' calls, the completion of workflow steps, which follows every job end, and app installs.
 */
@Module({
  imports: [PortalsCoreModule, JobsCoreModule, RedisModule, MetricsModule, RegistryModule],
  providers: [HubSpotGateway, WritebackWriter, WritebackReverter, WorkflowStepCompleter, JobHubSpotFactory, AppInstaller],
  exports: [HubSpotGateway, WritebackWriter, JobHubSpotFactory, AppInstaller],
})
export class HubSpotClientModule {}
