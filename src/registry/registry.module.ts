import { DynamicModule, Module, Type } from '@nestjs/common';
import { declarationOf, JobHandler } from './job-handler';
import { discoverHandlerClasses } from './handler-discovery';
import { HandlerRegistry } from './handler-registry';
import { HandlerSettings } from './handler-settings';
import { HandlersController } from './handlers.controller';

@Module({})
export class RegistryModule {
  /**
   * Registers every discovered handler (or the given ones, in tests) with the helpers each declares,
   * and the registry that checks them, given each handler's settings as read at start-up; with
   * `serveApi`, also GET /v1/handlers.
   */
  static forRoot(handlerClasses: Type[] = discoverHandlerClasses(), settings: ReadonlyMap<string, HandlerSettings> = new Map(), serveApi = true): DynamicModule {
    return {
      module: RegistryModule,
      global: true,
      controllers: serveApi ? [HandlersController] : [],
      providers: [
        ...handlerClasses,
        ...handlerClasses.flatMap((handlerClass) => declarationOf(handlerClass)?.providers ?? []),
        {
          provide: HandlerRegistry,
          useFactory: (...instances: JobHandler[]) => new HandlerRegistry(instances, settings),
          inject: handlerClasses,
        },
      ],
      exports: [HandlerRegistry],
    };
  }
}
