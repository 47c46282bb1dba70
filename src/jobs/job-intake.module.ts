import { Module } from '@nestjs/common';
import { MetricsModule } from '../metrics/metrics.module';
import { PortalsCoreModule } from '../portals/portals-core.module';
import { QueueModule } from '../queue/queue.module';
import { RegistryModule } from '../registry/registry.module';
import { JobWaiter } from './job-waiter';
import { JobsCoreModule } from './jobs-core.module';
import { JobsService } from './jobs.service';

/**
 * The jobs service without the HTTP API: what every way in (the API, the HubSpot entry points, the
 * Kafka ingest of the worker processes) enqueues through, so each request meets one validation and
 * one idempotency.
 */
@Module({
  imports: [JobsCoreModule, PortalsCoreModule, QueueModule, RegistryModule, MetricsModule],
  providers: [JobsService, JobWaiter],
  exports: [JobsService],
})
export class JobIntakeModule {}
