import { Module } from '@nestjs/common';
import { MetricsModule } from '../metrics/metrics.module';
import { QueueModule } from '../queue/queue.module';
import { RedisModule } from '../redis/redis.module';
import { AdminAudit } from './admin-audit';
import { JobLifecycle } from './job-lifecycle';
import { JobRepository } from './job.repository';
import { JobSignals } from './job-signals';
import { WaitingJobsMetric } from './waiting-jobs-metric';
import { WritebackJournal } from './writeback-journal';
import { WritebackReleases } from './writeback-releases';
import { WritebackReverts } from './writeback-reverts';

/**
 * What both the API and the workers need of jobs: their SQL, the write-back journal (with its
 * releases and reverts), their cross-process signals and their lifecycle.
 */
@Module({
  imports: [RedisModule, MetricsModule, QueueModule],
  providers: [JobRepository, WritebackJournal, WritebackReleases, WritebackReverts, JobSignals, JobLifecycle, AdminAudit, WaitingJobsMetric],
  exports: [JobRepository, WritebackJournal, WritebackReleases, WritebackReverts, JobSignals, JobLifecycle, AdminAudit],
})
export class JobsCoreModule {}
