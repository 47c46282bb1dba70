import { Module } from '@nestjs/common';
import { AppConfig } from '../config/app-config';
import { APP_CONFIG } from '../config/config.module';
import { MetricsModule } from '../metrics/metrics.module';
import { KafkaOutboxPublisher, OUTBOX_PUBLISHER } from './kafka-outbox-publisher';
import { OutboxRelay } from './outbox-relay.service';
import { OutboxRepository } from './outbox.repository';

/** The Kafka relay of the outbox; without KAFKA_BROKERS there is no publisher and it never connects. */
@Module({
  imports: [MetricsModule],
  providers: [
    OutboxRepository,
    OutboxRelay,
    {
      provide: OUTBOX_PUBLISHER,
      inject: [APP_CONFIG],
      useFactory: (config: AppConfig) => (config.kafkaBrokers ? new KafkaOutboxPublisher(config.kafkaBrokers) : null),
    },
  ],
})
export class OutboxModule {}
