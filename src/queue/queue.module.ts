import { BullModule } from '@nestjs/bullmq';
import { Module } from '@nestjs/common';
import { AppConfig } from '../config/app-config';
import { APP_CONFIG } from '../config/config.module';
import { bullMqConnection } from '../redis/redis-connection';
import { RedisModule } from '../redis/redis.module';
import { RegistryModule } from '../registry/registry.module';
import { FairShare } from './fair-share';
import { JobQueue } from './job-queue.service';

/** How BullMQ's queues and workers reach Redis: @nestjs/bullmq's shared configuration (getSharedConfigToken). */
function bullConnection(config: AppConfig) {
  return { connection: bullMqConnection(config), prefix: `${config.redisPrefix}:bull` };
}

/** One BullMQ queue per registered job type, fed fairly across portals. */
@Module({
  imports: [BullModule.forRootAsync({ inject: [APP_CONFIG], useFactory: bullConnection }), RegistryModule, RedisModule],
  providers: [JobQueue, FairShare],
  exports: [JobQueue],
})
export class QueueModule {}
