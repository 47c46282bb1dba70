import { DynamicModule, Module, Type } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { LoggerModule } from 'nestjs-pino';
import { requestLogFields } from './common/request-log-context';
import { AppConfig } from './config/app-config';
import { ConfigModule } from './config/config.module';
import { dataSourceOptions } from './database/data-source';
import { HealthModule } from './health/health.module';
import { HubSpotClientModule } from './hubspot/client/hubspot-client.module';
import { HubSpotEntryPointsModule } from './hubspot/entry-points/hubspot-entry-points.module';
import { KafkaIngestModule } from './ingest/kafka-ingest.module';
import { JobsModule } from './jobs/jobs.module';
import { MetricsModule } from './metrics/metrics.module';
import { OpsModule } from './ops/ops.module';
import { OutboxModule } from './outbox/outbox.module';
import { PortalsModule } from './portals/portals.module';
import { discoverHandlerClasses } from './registry/handler-discovery';
import { checkHandlerClasses } from './registry/handler-registry';
import { readHandlerSettings } from './registry/handler-settings';
import { HandlersApiModule } from './registry/handlers-api.module';
import { RequestLimitsModule } from './request-limits/request-limits.module';
import { RecordPurgeModule, RetentionModule } from './retention/retention.module';
import { WorkerModule } from './worker/worker.module';

/**
 * One module graph for every role: `api` serves the HTTP API, `worker` runs jobs (and serves only
 * /health and /metrics), `all` does both in one process.
 */
@Module({})
export class AppModule {
  static forRole(config: AppConfig, handlerClasses: Type[] = discoverHandlerClasses()): DynamicModule {
    // Checked (and their settings read) before any module starts, so a bad handler or setting stops start-up before connections open.
    const declarations = checkHandlerClasses(handlerClasses);
    const handlerSettings = readHandlerSettings(declarations, config.environment);
    return {
      module: AppModule,
      imports: [
        ConfigModule.forConfig(config, handlerClasses, handlerSettings),
        LoggerModule.forRoot({
          // nestjs-pino's per-request middleware is not applied: request-scoped fields come from the
          // mixin instead (see request-log-context.ts), and requests themselves are not logged.
          forRoutes: [],
          pinoHttp: { level: config.logLevel, mixin: requestLogFields },
        }),
        TypeOrmModule.forRoot(dataSourceOptions(config.databaseUrl)),
        MetricsModule,
        HealthModule,
        // Step completion listens to every job end, whichever role ends it.
        HubSpotClientModule,
        ...(config.role === 'worker' ? [] : [PortalsModule, JobsModule, HandlersApiModule, HubSpotEntryPointsModule, RequestLimitsModule, RecordPurgeModule, OpsModule]),
        ...(config.role === 'api' ? [] : [WorkerModule, OutboxModule, RetentionModule]),
        ...(config.role !== 'api' && config.kafkaIngest ? [KafkaIngestModule] : []),
      ],
    };
  }
}
