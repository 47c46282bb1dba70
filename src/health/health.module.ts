import { Module } from '@nestjs/common';
import { TerminusModule } from '@nestjs/terminus';
import { PortalsCoreModule } from '../portals/portals-core.module';
import { RedisModule } from '../redis/redis.module';
import { HealthController } from './health.controller';

@Module({ imports: [TerminusModule.forRoot({ logger: false }), RedisModule, PortalsCoreModule], controllers: [HealthController] })
export class HealthModule {}
