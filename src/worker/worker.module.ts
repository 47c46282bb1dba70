import { Module } from '@nestjs/common';
import { JobsCoreModule } from '../jobs/jobs-core.module';
import { PortalsCoreModule } from '../portals/portals-core.module';
import { JobReconciler } from './job-reconciler.service';
import { JobRunner } from './job-runner';
import { JobStateWriter } from './job-state-writer';
import { JobWorkers } from './job-workers.service';

@Module({
  imports: [JobsCoreModule, PortalsCoreModule],
  providers: [JobRunner, JobStateWriter, JobWorkers, JobReconciler],
  exports: [JobReconciler],
})
export class WorkerModule {}
