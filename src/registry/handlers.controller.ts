import { Controller, Get } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { HandlerRegistry } from './handler-registry';

@ApiTags('handlers')
@Controller('v1/handlers')
export class HandlersController {
  constructor(private readonly registry: HandlerRegistry) {}

  @Get()
  @ApiOperation({ summary: 'The job types this deployment runs, with their input schema and typed outputs' })
  @ApiOkResponse({ description: 'One entry per job type' })
  list() {
    return this.registry.list().map((handler) => ({
      type: handler.type,
      version: handler.version,
      description: handler.description,
      owner: handler.owner,
      inputSchema: handler.inputSchema,
      outputs: Object.entries(handler.outputs).map(([name, output]) => ({
        name,
        hubspotType: output.hubspotType,
        description: output.description,
        ...(output.options ? { options: output.options } : {}),
        ...(output.optional ? { optional: true } : {}),
        ...(output.property !== undefined ? { property: output.property } : {}),
      })),
      timeoutMs: handler.timeoutMs,
      retry: handler.retry,
      concurrency: handler.concurrency,
      ...(handler.config ? { configSchema: handler.config.schema, configDefault: handler.config.default } : {}),
    }));
  }
}
