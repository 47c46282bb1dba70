import { DynamicModule, Module, Type } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { LoggerModule } from 'nestjs-pino';
import { AppConfig } from './config/app-config';
import { ConfigModule } from './config/config.module';
import { dataSourceOptions } from './database/data-source';
import { HealthModule } from './health/health.module';
import { HubSpotEntryPointsModule } from './hubspot/hubspot-entry-points.module';
import { HubSpotModule } from './hubspot/hubspot.module';
import { JobsModule } from './jobs/jobs.module';
import { MetricsModule } from './metrics/metrics.module';
import { OutboxModule } from './outbox/outbox.module';
import { PortalsModule } from './portals/portals.module';
import { QueueModule } from './queue/queue.module';
import { RedisModule } from './redis/redis.module';
import { discoverHandlerClasses } from './registry/handler-discovery';
import { checkHandlerClasses } from './registry/handler-registry';
import { RegistryModule } from './registry/registry.module';
import { WorkerModule } from './worker/worker.module';

/**
 * One module graph for every role: `api` serves the HTTP API, `worker` runs jobs (and serves only
 * /health and /metrics), `all` does both in one process.
 */
@Module({})
export class AppModule {
  static forRole(config: AppConfig, handlerClasses: Type[] = discoverHandlerClasses()): DynamicModule {
    // Checked before any module starts, so a bad handler stops start-up before connections open.
    const jobTypes = checkHandlerClasses(handlerClasses).map((declaration) => declaration.type);
    return {
      module: AppModule,
      imports: [
        ConfigModule.forConfig(config),
        LoggerModule.forRoot({
          pinoHttp: {
            level: config.logLevel,
            autoLogging: false,
            quietReqLogger: true,
            // Only what identifies a request: no headers (so no credentials), and no per-request copying.
            serializers: { req: (req: { id: unknown; method: string; url: string }) => ({ id: req.id, method: req.method, url: req.url }) },
          },
        }),
        TypeOrmModule.forRoot(dataSourceOptions(config.databaseUrl)),
        RedisModule,
        RegistryModule.forRoot(handlerClasses, config.role !== 'worker'),
        QueueModule.forRoot(jobTypes),
        MetricsModule,
        HealthModule,
        HubSpotModule,
        ...(config.role === 'worker' ? [] : [PortalsModule, JobsModule, HubSpotEntryPointsModule]),
        ...(config.role === 'api' ? [] : [WorkerModule, OutboxModule]),
      ],
    };
  }
}
