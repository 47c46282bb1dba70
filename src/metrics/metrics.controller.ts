import { Controller, Get, Header, Inject, Req } from '@nestjs/common';
import { ApiExcludeController } from '@nestjs/swagger';
import type { FastifyRequest } from 'fastify';
import { ApiError } from '../common/api-error';
import { bearerToken, secretsEqual } from '../common/bearer-token';
import { AppConfig } from '../config/app-config';
import { APP_CONFIG } from '../config/config.module';
import { MetricsService } from './metrics.service';

@ApiExcludeController()
@Controller('metrics')
export class MetricsController {
  constructor(
    private readonly metrics: MetricsService,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  /** With METRICS_TOKEN set, only a scraper that sends it as its bearer token is answered. */
  @Get()
  @Header('content-type', 'text/plain; version=0.0.4; charset=utf-8')
  scrape(@Req() request: FastifyRequest): Promise<string> {
    const expected = this.config.metricsToken;
    const token = expected === undefined ? undefined : bearerToken(request);
    if (expected !== undefined && (token === undefined || !secretsEqual(token, expected))) {
      throw ApiError.unauthorized('/metrics needs the METRICS_TOKEN as bearer token');
    }
    return this.metrics.registry.metrics();
  }
}
