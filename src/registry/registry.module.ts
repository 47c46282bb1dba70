import { Module, Type } from '@nestjs/common';
import { LazyModuleLoader } from '@nestjs/core';
import { HANDLER_CLASSES, HANDLER_SETTINGS } from '../config/config.module';
import { RedisModule } from '../redis/redis.module';
import { HandlerRegistry } from './handler-registry';
import { HandlerSettings } from './handler-settings';
import { declarationOf, JobHandler } from './job-handler';

/** Where the handlers and the helpers they declare are built; what their constructors take is what it imports. */
@Module({})
class HandlerInstancesModule {}

/**
 * The one HandlerRegistry of the application, over an instance of every handler class it runs.
 * Which classes those are is known only at start-up (discovered, or given by a test), so their
 * module is loaded then, into the same module graph: its helpers share the app's Redis connection.
 */
@Module({
  imports: [RedisModule],
  providers: [
    {
      provide: HandlerRegistry,
      inject: [HANDLER_CLASSES, HANDLER_SETTINGS, LazyModuleLoader],
      useFactory: async (handlerClasses: Type<JobHandler>[], settings: ReadonlyMap<string, HandlerSettings>, loader: LazyModuleLoader) => {
        const handlers = await loader.load(() => ({
          module: HandlerInstancesModule,
          imports: [RedisModule],
          providers: [...handlerClasses, ...handlerClasses.flatMap((handlerClass) => declarationOf(handlerClass)?.providers ?? [])],
        }));
        return new HandlerRegistry(
          handlerClasses.map((handlerClass) => handlers.get(handlerClass)),
          settings,
        );
      },
    },
  ],
  exports: [HandlerRegistry],
})
export class RegistryModule {}
