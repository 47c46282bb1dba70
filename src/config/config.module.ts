import { Global, Module, Type } from '@nestjs/common';
import { AppConfig } from './app-config';

export const APP_CONFIG = Symbol('APP_CONFIG');
/** The handler classes this application runs: the discovered ones, or those a test gives. */
export const HANDLER_CLASSES = Symbol('HANDLER_CLASSES');

@Global()
@Module({})
export class ConfigModule {
  static forConfig(config: AppConfig, handlerClasses: Type[]) {
    return {
      module: ConfigModule,
      providers: [
        { provide: APP_CONFIG, useValue: config },
        { provide: HANDLER_CLASSES, useValue: handlerClasses },
      ],
      exports: [APP_CONFIG, HANDLER_CLASSES],
    };
  }
}
