import { MicroBatcher } from '../../common/micro-batcher';
import { RedisService } from '../../redis/redis.service';
import { IcpProperty } from './icp-config';
import { Histogram, Histograms } from './icp-imputation';

/** Distinct values kept per portal and property: values first seen after that are not counted, so free text cannot grow a hash without bound. */
export const MAX_DISTINCT_VALUES = 2_000;
/** How stale a distribution a job may impute from: one read per portal and property per interval, in each process. */
export const DISTRIBUTION_CACHE_MS = 2_000;
/** Observations of jobs finishing within this long of each other share one Redis round trip. */
const RECORD_LINGER_MS = 10;

/** Adds counts to one histogram hash; a value the hash lacks is added only while it holds fewer than ARGV[1] values. */
const RECORD_SCRIPT = `
local cap = tonumber(ARGV[1])
local size = redis.call('HLEN', KEYS[1])
for i = 2, #ARGV, 2 do
  if size < cap or redis.call('HEXISTS', KEYS[1], ARGV[i]) == 1 then
    local increment = tonumber(ARGV[i + 1])
    if redis.call('HINCRBY', KEYS[1], ARGV[i], increment) == increment then size = size + 1 end
  end
end
return size`;

interface Observation {
  portalId: string;
  observations: Partial<Record<IcpProperty, string>>;
}

/**
 * Each portal's running distribution of the values its scored records had, one Redis hash (value ->
 * count) per property, shared by every worker process. Observations of concurrent jobs are merged
 * into one round trip; reads are cached briefly per process.
 */
export class IcpObservations {
  private readonly recorder: MicroBatcher<Observation, void>;
  private readonly cache = new Map<string, { histogram: Promise<Histogram>; expiresAt: number }>();

  constructor(
    private readonly redis: RedisService,
    private readonly cacheMs = DISTRIBUTION_CACHE_MS,
  ) {
    this.recorder = new MicroBatcher({ maxBatchSize: 1_000, maxInFlight: 2, lingerMs: RECORD_LINGER_MS, execute: (batch) => this.write(batch) });
  }

  /** Counts one record's observed values (observation keys); resolves once Redis has them. */
  async record(portalId: string, observations: Partial<Record<IcpProperty, string>>): Promise<void> {
    if (Object.keys(observations).length > 0) await this.recorder.add({ portalId, observations });
  }

  /** The portal's histogram of each property asked for. */
  async histograms(portalId: string, properties: IcpProperty[]): Promise<Histograms> {
    const histograms = await Promise.all(properties.map((property) => this.histogram(portalId, property)));
    return Object.fromEntries(properties.map((property, index) => [property, histograms[index]]));
  }

  private histogram(portalId: string, property: IcpProperty): Promise<Histogram> {
    const cacheKey = `${portalId}\u0000${property}`;
    const hit = this.cache.get(cacheKey);
    if (hit && hit.expiresAt > Date.now()) return hit.histogram;
    const histogram = this.redis.client
      .hgetall(this.key(portalId, property))
      .then((counts) => Object.fromEntries(Object.entries(counts).map(([value, count]) => [value, Number(count)])));
    this.cache.set(cacheKey, { histogram, expiresAt: Date.now() + this.cacheMs });
    histogram.catch(() => this.cache.delete(cacheKey));
    return histogram;
  }

  private async write(batch: Observation[]): Promise<void[]> {
    const increments = new Map<string, Map<string, number>>();
    for (const { portalId, observations } of batch) {
      for (const [property, value] of Object.entries(observations) as Array<[IcpProperty, string]>) {
        const key = this.key(portalId, property);
        const counts = increments.get(key) ?? new Map<string, number>();
        counts.set(value, (counts.get(value) ?? 0) + 1);
        increments.set(key, counts);
      }
    }
    const results = await this.redis.pipelinePerKey([...increments.keys()], (pipeline, key) =>
      pipeline.eval(RECORD_SCRIPT, 1, key, MAX_DISTINCT_VALUES, ...[...increments.get(key)!].flat()),
    );
    const failed = results.flat().find(([error]) => error);
    if (failed) throw failed[0];
    return batch.map(() => undefined);
  }

  private key(portalId: string, property: IcpProperty): string {
    return this.redis.key('icp-observations', portalId, property);
  }
}
