import { Injectable } from '@nestjs/common';
import { RedisService } from '../redis/redis.service';

/**
 * Cross-process news about jobs over Redis pub/sub: which jobs just ended (for long-polls) and which
 * were cancelled (for the worker running them). Best-effort by design: PostgreSQL stays the truth,
 * and a missed message costs a waiter its timeout, never a wrong answer.
 */
@Injectable()
export class JobSignals {
  private readonly finishedChannel: string;
  private readonly cancelChannel: string;

  constructor(private readonly redis: RedisService) {
    this.finishedChannel = redis.key('jobs-finished');
    this.cancelChannel = redis.key('jobs-cancel');
  }

  async announceFinished(ids: string[]): Promise<void> {
    if (ids.length > 0) await this.redis.publish(this.finishedChannel, ids.join(','));
  }

  onFinished(listener: (ids: string[]) => void): () => void {
    return this.redis.subscribe(this.finishedChannel, (message) => listener(message.split(',')));
  }

  async requestCancel(id: string): Promise<void> {
    await this.redis.publish(this.cancelChannel, id);
  }

  onCancel(listener: (id: string) => void): () => void {
    return this.redis.subscribe(this.cancelChannel, listener);
  }
}
