import { BullModule } from '@nestjs/bullmq';
import { DynamicModule, Module } from '@nestjs/common';
import { AppConfig } from '../config/app-config';
import { APP_CONFIG } from '../config/config.module';
import { JobQueue } from './job-queue.service';
import { queueNameFor } from './queue-names';

export function bullConnection(config: AppConfig) {
  return { connection: { ...config.redis, maxRetriesPerRequest: null }, prefix: `${config.redisPrefix}:bull` };
}

@Module({})
export class QueueModule {
  static forRoot(jobTypes: string[]): DynamicModule {
    return {
      module: QueueModule,
      global: true,
      imports: [
        BullModule.forRootAsync({ inject: [APP_CONFIG], useFactory: bullConnection }),
        BullModule.registerQueue(...jobTypes.map((type) => ({ name: queueNameFor(type) }))),
      ],
      providers: [JobQueue],
      exports: [JobQueue, BullModule],
    };
  }
}
