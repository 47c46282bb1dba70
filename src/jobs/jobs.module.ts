import { Module } from '@nestjs/common';
import { MetricsModule } from '../metrics/metrics.module';
import { PortalsModule } from '../portals/portals.module';
import { QueueModule } from '../queue/queue.module';
import { RegistryModule } from '../registry/registry.module';
import { AdminJobsController } from './admin-jobs.controller';
import { AdminJobsService } from './admin-jobs.service';
import { JobSearch } from './job-search';
import { JobWaiter } from './job-waiter';
import { JobsController } from './jobs.controller';
import { JobsCoreModule } from './jobs-core.module';
import { JobsService } from './jobs.service';
import { WritebacksAdminController } from './writebacks-admin.controller';

@Module({
  imports: [JobsCoreModule, PortalsModule, QueueModule, RegistryModule, MetricsModule],
  controllers: [JobsController, AdminJobsController, WritebacksAdminController],
  providers: [JobsService, JobWaiter, JobSearch, AdminJobsService],
  exports: [JobsService, AdminJobsService],
})
export class JobsModule {}
