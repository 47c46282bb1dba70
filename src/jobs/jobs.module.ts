import { Module } from '@nestjs/common';
import { PortalsModule } from '../portals/portals.module';
import { JobWaiter } from './job-waiter';
import { JobsController } from './jobs.controller';
import { JobsCoreModule } from './jobs-core.module';
import { JobsService } from './jobs.service';

@Module({
  imports: [JobsCoreModule, PortalsModule],
  controllers: [JobsController],
  providers: [JobsService, JobWaiter],
  exports: [JobsService],
})
export class JobsModule {}
