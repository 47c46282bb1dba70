import { Module } from '@nestjs/common';
import { RedisModule } from '../redis/redis.module';
import { RequestRateLimiter } from './request-rate-limiter';

/** Limits on what clients may send: request rates per key and per address. */
@Module({ imports: [RedisModule], providers: [RequestRateLimiter], exports: [RequestRateLimiter] })
export class RequestLimitsModule {}
