import { Module } from '@nestjs/common';
import { JobsCoreModule } from '../jobs/jobs-core.module';
import { MetricsModule } from '../metrics/metrics.module';
import { PortalsCoreModule } from '../portals/portals-core.module';
import { JobRetention } from './job-retention.service';
import { RecordPurgeController } from './record-purge.controller';
import { RetentionRepository } from './retention.repository';

/** The workers' side of retention: jobs purged once JOB_RETENTION_DAYS have passed since they ended. */
@Module({ imports: [MetricsModule], providers: [RetentionRepository, JobRetention], exports: [JobRetention] })
export class RetentionModule {}

/** The API's side: a record's data erased on request. */
@Module({ imports: [JobsCoreModule, PortalsCoreModule], controllers: [RecordPurgeController], providers: [RetentionRepository] })
export class RecordPurgeModule {}
