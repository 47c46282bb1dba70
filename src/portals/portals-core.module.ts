import { Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { ApiKey } from './api-key.entity';
import { AdminGuard, PortalKeyGuard } from './auth.guards';
import { Portal } from './portal.entity';
import { PortalsService } from './portals.service';

/** Portals, their keys and credentials, without the admin API: what the workers need of them too. */
@Module({
  imports: [TypeOrmModule.forFeature([Portal, ApiKey])],
  providers: [PortalsService, AdminGuard, PortalKeyGuard],
  exports: [PortalsService, AdminGuard, PortalKeyGuard],
})
export class PortalsCoreModule {}
