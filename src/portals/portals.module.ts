import { Module } from '@nestjs/common';
import { JobsCoreModule } from '../jobs/jobs-core.module';
import { RegistryModule } from '../registry/registry.module';
import { AdminController } from './admin.controller';
import { PortalsCoreModule } from './portals-core.module';

@Module({
  imports: [PortalsCoreModule, JobsCoreModule, RegistryModule],
  controllers: [AdminController],
  exports: [PortalsCoreModule],
})
export class PortalsModule {}
