import { Module } from '@nestjs/common';
import { JobIntakeModule } from '../jobs/job-intake.module';
import { MetricsModule } from '../metrics/metrics.module';
import { PortalsCoreModule } from '../portals/portals-core.module';
import { JobRequestIngest } from './job-request-ingest';
import { KafkaIngest } from './kafka-ingest.service';

/** Job requests from Kafka (KAFKA_INGEST_TOPIC); imported by the worker processes only when it is set. */
@Module({
  imports: [JobIntakeModule, PortalsCoreModule, MetricsModule],
  providers: [JobRequestIngest, KafkaIngest],
})
export class KafkaIngestModule {}
