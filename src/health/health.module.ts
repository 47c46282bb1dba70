import { Module } from '@nestjs/common';
import { TerminusModule } from '@nestjs/terminus';
import { MetricsModule } from '../metrics/metrics.module';
import { RedisModule } from '../redis/redis.module';
import { HealthController } from './health.controller';
import { RedisEvictionPolicy } from './redis-eviction-policy';
import { SchemaVersion } from './schema-version';

@Module({
  imports: [TerminusModule.forRoot({ logger: false }), RedisModule, MetricsModule],
  controllers: [HealthController],
  providers: [SchemaVersion, RedisEvictionPolicy],
})
export class HealthModule {}
