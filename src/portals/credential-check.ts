import { Inject, Injectable, Logger, OnApplicationBootstrap } from '@nestjs/common';
import { Gauge } from 'prom-client';
import { DataSource } from 'typeorm';
import { AppConfig } from '../config/app-config';
import { APP_CONFIG } from '../config/config.module';
import { MetricsService } from '../metrics/metrics.service';
import { CredentialCipher } from './credential-cipher';
import { undecryptable } from './stored-credentials';

/**
 * Checks at start-up that every stored credential decrypts with the configured keys. With a wrong
 * ENCRYPTION_KEY every HubSpot call would fail; readiness fails instead, naming the variable, so a
 * rollout with the wrong key stops before it takes traffic or work. Once passed, it stays passed.
 */
@Injectable()
export class CredentialCheck implements OnApplicationBootstrap {
  private readonly logger = new Logger(CredentialCheck.name);
  private readonly cipher: CredentialCipher;
  private outcome?: Promise<string | undefined>;
  private readonly undecryptable: Gauge;

  constructor(
    @Inject(APP_CONFIG) config: AppConfig,
    private readonly db: DataSource,
    metrics: MetricsService,
  ) {
    this.cipher = new CredentialCipher(config.encryptionKeys);
    this.undecryptable = new Gauge({
      name: 'offload_credentials_undecryptable',
      help: 'Stored credentials the configured ENCRYPTION_KEYS cannot decrypt, as found at start-up (readiness fails while above 0)',
      registers: [metrics.registry],
    });
  }

  onApplicationBootstrap(): void {
    // PostgreSQL not answering yet: readiness asks again.
    this.problem().catch(() => undefined);
  }

  /** Why the stored credentials cannot be used, or undefined when they all decrypt. PostgreSQL not answering leaves it to be asked again. */
  problem(): Promise<string | undefined> {
    this.outcome ??= this.check().catch((error: Error) => {
      this.outcome = undefined;
      throw error;
    });
    return this.outcome;
  }

  private async check(): Promise<string | undefined> {
    const { total, failing } = await undecryptable(this.db, this.cipher);
    this.undecryptable.set(failing.length);
    if (failing.length === 0) return undefined;
    const problem =
      `${failing.length} of ${total} stored credentials cannot be decrypted with ENCRYPTION_KEYS (or ENCRYPTION_KEY): ` +
      `set it to the key they were stored with (a rotation lists the new key first, then the old one), e.g. ${failing[0]}`;
    this.logger.error({ event: 'credentials.undecryptable', failing: failing.length, total }, problem);
    return problem;
  }
}
