import { Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { AdminController } from './admin.controller';
import { ApiKey } from './api-key.entity';
import { AdminGuard, PortalKeyGuard } from './auth.guards';
import { Portal } from './portal.entity';
import { PortalsService } from './portals.service';

@Module({
  imports: [TypeOrmModule.forFeature([Portal, ApiKey])],
  controllers: [AdminController],
  providers: [PortalsService, AdminGuard, PortalKeyGuard],
  exports: [PortalsService, AdminGuard, PortalKeyGuard],
})
export class PortalsModule {}
