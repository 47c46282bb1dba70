import { Module } from '@nestjs/common';
import { HandlersController } from './handlers.controller';
import { RegistryModule } from './registry.module';

/** GET /v1/handlers: what the registry holds, for API clients. */
@Module({ imports: [RegistryModule], controllers: [HandlersController] })
export class HandlersApiModule {}
