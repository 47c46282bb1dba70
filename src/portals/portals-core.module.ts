import { Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { JobsCoreModule } from '../jobs/jobs-core.module';
import { MetricsModule } from '../metrics/metrics.module';
import { QueueModule } from '../queue/queue.module';
import { RedisModule } from '../redis/redis.module';
import { RegistryModule } from '../registry/registry.module';
import { ApiKey } from './api-key.entity';
import { AdminGuard, PortalKeyGuard } from './auth.guards';
import { CredentialCheck } from './credential-check';
import { Portal } from './portal.entity';
import { PortalHandlerConfig } from './portal-handler-config.entity';
import { PortalSecret } from './portal-secret.entity';
import { PortalPauses } from './portal-pauses.service';
import { PortalSettingsService } from './portal-settings.service';
import { PortalsService } from './portals.service';

/** Portals, their keys, credentials and settings, without the admin API: what the workers need of them too. */
@Module({
  imports: [TypeOrmModule.forFeature([Portal, ApiKey, PortalHandlerConfig, PortalSecret]), RedisModule, RegistryModule, MetricsModule, QueueModule, JobsCoreModule],
  providers: [PortalsService, PortalSettingsService, PortalPauses, AdminGuard, PortalKeyGuard, CredentialCheck],
  exports: [PortalsService, PortalSettingsService, PortalPauses, AdminGuard, PortalKeyGuard, CredentialCheck],
})
export class PortalsCoreModule {}
