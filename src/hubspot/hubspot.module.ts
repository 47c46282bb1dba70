import { Global, Module } from '@nestjs/common';
import { JobsCoreModule } from '../jobs/jobs-core.module';
import { PortalsCoreModule } from '../portals/portals-core.module';
import { HubSpotGateway } from './hubspot-gateway';
import { JobHubSpotFactory } from './job-hubspot';
import { WorkflowStepCompleter } from './workflow-step-completer';
import { WritebackBatcher } from './writeback-batcher';

/** Every call Offload makes to HubSpot: the gateway (client, shared budget, retries), write-back, step completion and handlers' calls. */
@Global()
@Module({
  imports: [PortalsCoreModule, JobsCoreModule],
  providers: [HubSpotGateway, WritebackBatcher, WorkflowStepCompleter, JobHubSpotFactory],
  exports: [HubSpotGateway, WritebackBatcher, WorkflowStepCompleter, JobHubSpotFactory],
})
export class HubSpotModule {}
