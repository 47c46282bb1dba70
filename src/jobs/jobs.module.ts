import { Module } from '@nestjs/common';
import { MetricsModule } from '../metrics/metrics.module';
import { PortalsModule } from '../portals/portals.module';
import { QueueModule } from '../queue/queue.module';
import { RegistryModule } from '../registry/registry.module';
import { AdminJobsController } from './admin-jobs.controller';
import { AdminJobsService } from './admin-jobs.service';
import { JobIntakeModule } from './job-intake.module';
import { JobSearch } from './job-search';
import { JobsController } from './jobs.controller';
import { JobsCoreModule } from './jobs-core.module';
import { WritebacksAdminController } from './writebacks-admin.controller';

@Module({
  imports: [JobsCoreModule, JobIntakeModule, PortalsModule, QueueModule, RegistryModule, MetricsModule],
  controllers: [JobsController, AdminJobsController, WritebacksAdminController],
  providers: [JobSearch, AdminJobsService],
  exports: [JobIntakeModule, AdminJobsService],
})
export class JobsModule {}
