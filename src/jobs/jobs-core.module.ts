import { Module } from '@nestjs/common';
import { MetricsModule } from '../metrics/metrics.module';
import { QueueModule } from '../queue/queue.module';
import { RedisModule } from '../redis/redis.module';
import { JobLifecycle } from './job-lifecycle';
import { JobRepository } from './job.repository';
import { JobSignals } from './job-signals';

/** What both the API and the workers need of jobs: their SQL, their cross-process signals and their lifecycle. */
@Module({
  imports: [RedisModule, MetricsModule, QueueModule],
  providers: [JobRepository, JobSignals, JobLifecycle],
  exports: [JobRepository, JobSignals, JobLifecycle],
})
export class JobsCoreModule {}
