import { INestApplication } from '@nestjs/common';
import { ModulesContainer } from '@nestjs/core';
import { HubSpotGateway } from '../src/hubspot/client/hubspot-gateway';
import { JobLifecycle } from '../src/jobs/job-lifecycle';
import { JobsService } from '../src/jobs/jobs.service';
import { MetricsService } from '../src/metrics/metrics.service';
import { PortalsService } from '../src/portals/portals.service';
import { JobQueue } from '../src/queue/job-queue.service';
import { RedisService } from '../src/redis/redis.service';
import { HandlerRegistry } from '../src/registry/handler-registry';
import { closedPort } from './support/kafka-mock';
import { configFor, isolate, Isolation, RunningOffload, startOffload } from './support/offload-harness';

/** Every instance the application holds of a provider, across all its modules. */
function instancesOf(app: INestApplication, token: unknown): unknown[] {
  return [...app.get(ModulesContainer).values()].flatMap((module) => {
    const wrapper = module.providers.get(token as string);
    return wrapper?.instance ? [wrapper.instance] : [];
  });
}

const SHARED = [RedisService, HandlerRegistry, JobQueue, MetricsService, JobLifecycle, PortalsService, HubSpotGateway];

describe('module graph: the modules that need a shared service import its module, and share one instance of it', () => {
  let isolation: Isolation;
  let offload: RunningOffload | undefined;

  beforeAll(async () => {
    isolation = await isolate();
  });

  afterEach(async () => {
    await offload?.close();
    offload = undefined;
  });

  afterAll(async () => {
    await isolation?.cleanup();
  });

  it.each(['all', 'api', 'worker'])('ROLE=%s holds exactly one instance of each shared service', async (role) => {
    offload = await startOffload(configFor(isolation, { ROLE: role }));
    const counts = SHARED.map((token) => ({ service: token.name, instances: instancesOf(offload!.app, token).length }));
    expect(counts).toEqual(SHARED.map((token) => ({ service: token.name, instances: 1 })));
  });

  it('ROLE=all with the Kafka ingest on enqueues through the one JobsService the API uses', async () => {
    const kafka = `127.0.0.1:${await closedPort()}`;
    offload = await startOffload(configFor(isolation, { ROLE: 'all', KAFKA_BROKERS: kafka, KAFKA_INGEST_TOPIC: 'job-requests' }));
    expect(instancesOf(offload.app, JobsService)).toHaveLength(1);
    expect(SHARED.map((token) => instancesOf(offload!.app, token).length)).toEqual(SHARED.map(() => 1));
  });
});
