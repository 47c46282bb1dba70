import { Module } from '@nestjs/common';
import { RegistryModule } from '../registry/registry.module';
import { JobQueue } from './job-queue.service';

/** One BullMQ queue per registered job type. */
@Module({ imports: [RegistryModule], providers: [JobQueue], exports: [JobQueue] })
export class QueueModule {}
