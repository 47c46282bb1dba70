import { Module, Type } from '@nestjs/common';
import { ModuleRef } from '@nestjs/core';
import { HANDLER_CLASSES } from '../config/config.module';
import { RedisModule } from '../redis/redis.module';
import { HandlerRegistry } from './handler-registry';
import { JobHandler } from './job-handler';

/**
 * The one HandlerRegistry of the application, over an instance of every handler class it runs.
 * Handlers are built here, so what their constructors take is what this module imports.
 */
@Module({
  imports: [RedisModule],
  providers: [
    {
      provide: HandlerRegistry,
      inject: [HANDLER_CLASSES, ModuleRef],
      useFactory: async (handlerClasses: Type<JobHandler>[], moduleRef: ModuleRef) =>
        new HandlerRegistry(await Promise.all(handlerClasses.map((handlerClass) => moduleRef.create(handlerClass)))),
    },
  ],
  exports: [HandlerRegistry],
})
export class RegistryModule {}
