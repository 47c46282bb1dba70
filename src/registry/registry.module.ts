import { DynamicModule, Module, Type } from '@nestjs/common';
import { JobHandler } from './job-handler';
import { discoverHandlerClasses } from './handler-discovery';
import { HandlerRegistry } from './handler-registry';
import { HandlersController } from './handlers.controller';

@Module({})
export class RegistryModule {
  /**
   * Registers every discovered handler (or the given ones, in tests) and the registry that checks
   * them; with `serveApi`, also GET /v1/handlers.
   */
  static forRoot(handlerClasses: Type[] = discoverHandlerClasses(), serveApi = true): DynamicModule {
    return {
      module: RegistryModule,
      global: true,
      controllers: serveApi ? [HandlersController] : [],
      providers: [
        ...handlerClasses,
        {
          provide: HandlerRegistry,
          useFactory: (...instances: JobHandler[]) => new HandlerRegistry(instances),
          inject: handlerClasses,
        },
      ],
      exports: [HandlerRegistry],
    };
  }
}
