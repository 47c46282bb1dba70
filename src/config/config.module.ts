import { Global, Module, Type } from '@nestjs/common';
import type { HandlerSettings } from '../registry/handler-settings';
import { AppConfig } from './app-config';

export const APP_CONFIG = Symbol('APP_CONFIG');
/** The handler classes this application runs: the discovered ones, or those a test gives. */
export const HANDLER_CLASSES = Symbol('HANDLER_CLASSES');
/** Each handler's environment settings by job type, as read and checked at start-up. */
export const HANDLER_SETTINGS = Symbol('HANDLER_SETTINGS');

@Global()
@Module({})
export class ConfigModule {
  static forConfig(config: AppConfig, handlerClasses: Type[], handlerSettings: ReadonlyMap<string, HandlerSettings>) {
    return {
      module: ConfigModule,
      providers: [
        { provide: APP_CONFIG, useValue: config },
        { provide: HANDLER_CLASSES, useValue: handlerClasses },
        { provide: HANDLER_SETTINGS, useValue: handlerSettings },
      ],
      exports: [APP_CONFIG, HANDLER_CLASSES, HANDLER_SETTINGS],
    };
  }
}
