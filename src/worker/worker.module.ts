import { Module } from '@nestjs/common';
import { HubSpotClientModule } from '../hubspot/client/hubspot-client.module';
import { JobsCoreModule } from '../jobs/jobs-core.module';
import { MetricsModule } from '../metrics/metrics.module';
import { PortalsCoreModule } from '../portals/portals-core.module';
import { QueueModule } from '../queue/queue.module';
import { RedisModule } from '../redis/redis.module';
import { RegistryModule } from '../registry/registry.module';
import { JobReconciler } from './job-reconciler.service';
import { JobRunner } from './job-runner';
import { JobWorkers } from './job-workers.service';
import { QueueFeeder } from './queue-feeder';

@Module({
  imports: [JobsCoreModule, PortalsCoreModule, HubSpotClientModule, RegistryModule, MetricsModule, QueueModule, RedisModule],
  providers: [JobRunner, JobWorkers, JobReconciler, QueueFeeder],
  exports: [JobReconciler],
})
export class WorkerModule {}
