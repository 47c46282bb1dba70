import { Module } from '@nestjs/common';
import { AdminController } from './admin.controller';
import { PortalsCoreModule } from './portals-core.module';

@Module({
  imports: [PortalsCoreModule],
  controllers: [AdminController],
  exports: [PortalsCoreModule],
})
export class PortalsModule {}
