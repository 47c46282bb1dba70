import { Module } from '@nestjs/common';
import { JobRepository } from './job.repository';
import { JobSignals } from './job-signals';

/** What both the API and the workers need of jobs: their SQL and their cross-process signals. */
@Module({ providers: [JobRepository, JobSignals], exports: [JobRepository, JobSignals] })
export class JobsCoreModule {}
