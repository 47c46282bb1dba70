/**
 * k8s/ as kustomize renders it: the base and both overlays, each manifest valid against the
 * published Kubernetes and KEDA schemas, and what each overlay promises (docs/deploying.md): dev
 * minimal, prod with Kafka, OpenTelemetry and autoscaling; in all, pods that wait for the
 * migration Job, disruption budgets and network policies that let through what Offload uses.
 * (test/static/deployment-manifests.spec.ts checks the base's files against the code.)
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { parse } from 'yaml';
import { loadConfig } from '../src/config/app-config';
import { Manifest, render, schemaReports } from './support/kubernetes-manifests';

const ROOT = resolve(__dirname, '..');
const text = (file: string): string => readFileSync(join(ROOT, file), 'utf8');

const BASE = 'k8s/base';
const DEV = 'k8s/overlays/dev';
const PROD = 'k8s/overlays/prod';
const KUSTOMIZATIONS = [BASE, DEV, PROD];

/** The build's wait command, as the init containers run it: node <file the build makes from src/database/wait-for-schema.ts>. */
const WAIT_FOR_SCHEMA = 'dist/src/database/wait-for-schema.js';

/** Metrics Offload registers (`name: 'offload_...'`), with the series a histogram adds. */
const EXPORTED = new Set(
  readdirSync(join(ROOT, 'src'), { recursive: true, withFileTypes: true })
    .filter((entry) => entry.isFile() && entry.name.endsWith('.ts') && !entry.name.endsWith('.spec.ts'))
    .flatMap((entry) => [...readFileSync(join(entry.parentPath, entry.name), 'utf8').matchAll(/name: '(offload_[a-z0-9_]+)'/g)])
    .flatMap(([, name]) => [name, `${name}_bucket`, `${name}_count`, `${name}_sum`]),
);
/** The queue states offload_queue_jobs reports: those it asks BullMQ to count. */
const QUEUE_STATES = [...(/getJobCounts\(([^)]*)\)/.exec(text('src/metrics/metrics.service.ts'))?.[1] ?? '').matchAll(/'([a-z]+)'/g)].map((match) => match[1]);

/** Every directory under k8s/ holding a kustomization. */
function kustomizationsIn(directory: string): string[] {
  return readdirSync(join(ROOT, directory), { recursive: true })
    .map(String)
    .filter((file) => file.endsWith('kustomization.yaml'))
    .map((file) => relative(ROOT, join(ROOT, directory, file, '..')))
    .sort();
}

const byNumber = (a: number, b: number) => a - b;
const ofKind = (manifests: Manifest[], kind: string) => manifests.filter((manifest) => manifest.kind === kind);
const named = (manifests: Manifest[], kind: string, name: string) => ofKind(manifests, kind).find((manifest) => manifest.metadata.name === name);
const podLabels = (workload: Manifest): Record<string, string> => workload.spec.template.metadata?.labels ?? {};
const matches = (selector: Record<string, string> | undefined, labels: Record<string, string>) =>
  Object.entries(selector ?? {}).every(([key, value]) => labels[key] === value);
const roleOf = (deployment: Manifest): string | undefined =>
  deployment.spec.template.spec.containers[0].env?.find((entry: Manifest) => entry.name === 'ROLE')?.value;
const deployment = (manifests: Manifest[], role: 'api' | 'worker') => ofKind(manifests, 'Deployment').find((candidate) => roleOf(candidate) === role)!;
const configOf = (manifests: Manifest[]): Record<string, string> => named(manifests, 'ConfigMap', 'offload-config')!.data;
/** The example Secret's values: its URLs name the ports PostgreSQL and Redis listen on. */
const SECRET_EXAMPLE: Record<string, string> = parse(text('k8s/secret.example.yaml')).stringData;

function portOf(address: string): number {
  const url = new URL(address.includes('://') ? address : `tcp://${address}`);
  return Number(url.port) || { 'https:': 443, 'http:': 80, 'postgres:': 5432, 'redis:': 6379 }[url.protocol]!;
}

/** Policies of a type that select the pods, Kubernetes' rule: a pod selected by none is not isolated for that type. */
function policiesFor(manifests: Manifest[], labels: Record<string, string>, type: 'Ingress' | 'Egress'): Manifest[] {
  return ofKind(manifests, 'NetworkPolicy').filter(
    (policy) => (policy.spec.policyTypes ?? ['Ingress']).includes(type) && matches(policy.spec.podSelector.matchLabels, labels),
  );
}

/** Whether a rule's ports let through this port (a container port given by number and name). */
function rulePasses(rule: Manifest, port: { number: number; name?: string }, protocol: string): boolean {
  if (!rule.ports) return true;
  return rule.ports.some((entry: Manifest) => (entry.protocol ?? 'TCP') === protocol && (entry.port === port.number || (port.name !== undefined && entry.port === port.name)));
}

/** Whether the pods may send to this port, to any address (the rules name no destinations: PostgreSQL and the APIs may be anywhere). */
function egressAllowed(manifests: Manifest[], labels: Record<string, string>, port: number, protocol = 'TCP'): boolean {
  const policies = policiesFor(manifests, labels, 'Egress');
  if (policies.length === 0) return true;
  return policies.some((policy) => (policy.spec.egress ?? []).some((rule: Manifest) => !rule.to && rulePasses(rule, { number: port }, protocol)));
}

/** The `from` of each ingress rule that lets through the pods' port; [] for a rule open to everyone. */
function ingressSources(manifests: Manifest[], workload: Manifest, portName: string): Manifest[][] {
  const container = workload.spec.template.spec.containers[0];
  const port = { number: container.ports.find((entry: Manifest) => entry.name === portName).containerPort, name: portName };
  return policiesFor(manifests, podLabels(workload), 'Ingress').flatMap((policy) =>
    (policy.spec.ingress ?? []).filter((rule: Manifest) => rulePasses(rule, port, 'TCP')).map((rule: Manifest) => rule.from ?? []),
  );
}

describe('k8s/ rendered by kustomize', () => {
  const rendered = new Map<string, Manifest[]>();

  beforeAll(async () => {
    for (const directory of KUSTOMIZATIONS) rendered.set(directory, await render(directory));
  });

  it('has the base and the dev and prod overlays, and no other kustomization', () => {
    expect(kustomizationsIn('k8s')).toEqual([BASE, DEV, PROD].sort());
  });

  describe.each(KUSTOMIZATIONS)('%s', (directory) => {
    const manifests = () => rendered.get(directory)!;

    it('is valid against the Kubernetes and KEDA schemas, every manifest', async () => {
      const reports = await schemaReports(manifests());
      expect(reports.map(({ kind, name }) => `${kind}/${name}`)).toEqual(manifests().map((manifest) => `${manifest.kind}/${manifest.metadata.name}`));
      expect(reports.filter((report) => report.problems.length > 0)).toEqual([]);
    });

    it('starts no api or worker pod before the schema is at its image version: an init container waits for the migration Job', () => {
      const [job] = ofKind(manifests(), 'Job');
      const migrate = job.spec.template.spec.containers[0];
      const databaseSource = (container: Manifest) => JSON.stringify(container.env.find((entry: Manifest) => entry.name === 'DATABASE_URL')?.valueFrom);
      for (const role of ['api', 'worker'] as const) {
        const initContainers: Manifest[] = deployment(manifests(), role).spec.template.spec.initContainers ?? [];
        expect({ role, count: initContainers.length }).toEqual({ role, count: 1 });
        const [wait] = initContainers;
        expect(wait.command.slice(0, 2)).toEqual(['node', WAIT_FOR_SCHEMA]);
        expect(wait.command.slice(2)).toEqual([expect.stringMatching(/^--timeout-seconds=\d+$/)]);
        expect(wait.image).toBe(migrate.image);
        expect(databaseSource(wait)).toBe(databaseSource(migrate));
      }
      expect(readdirSync(join(ROOT, 'src/database'))).toContain('wait-for-schema.ts');
    });

    it('gives the api and the workers each a disruption budget that lets a drain proceed', () => {
      for (const role of ['api', 'worker'] as const) {
        const workload = deployment(manifests(), role);
        const budgets = ofKind(manifests(), 'PodDisruptionBudget').filter((budget) => matches(budget.spec.selector.matchLabels, podLabels(workload)));
        expect({ role, budgets: budgets.length }).toEqual({ role, budgets: 1 });
        expect(budgets[0].spec.maxUnavailable).toBeGreaterThanOrEqual(1);
      }
    });

    it('lets anyone reach the api port, and only the monitoring namespace the workers\' (their /metrics)', () => {
      expect(ingressSources(manifests(), deployment(manifests(), 'api'), 'http')).toContainEqual([]);
      const workerSources = ingressSources(manifests(), deployment(manifests(), 'worker'), 'http');
      expect(workerSources.length).toBeGreaterThan(0);
      for (const from of workerSources) expect(from).toEqual([{ namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'monitoring' } } }]);
      const annotations = deployment(manifests(), 'worker').spec.template.metadata.annotations;
      const container = deployment(manifests(), 'worker').spec.template.spec.containers[0];
      expect(container.ports.find((entry: Manifest) => entry.name === 'http').containerPort).toBe(Number(annotations['prometheus.io/port']));
      const [job] = ofKind(manifests(), 'Job');
      const jobPolicies = policiesFor(manifests(), podLabels(job), 'Ingress');
      expect(jobPolicies.length).toBeGreaterThan(0);
      expect(jobPolicies.flatMap((policy) => policy.spec.ingress ?? [])).toEqual([]);
    });

    it('lets every pod reach DNS, PostgreSQL, Redis and the HTTPS APIs it calls, and nothing it does not use', () => {
      const config = configOf(manifests());
      const needed = [
        portOf(SECRET_EXAMPLE.DATABASE_URL),
        portOf(SECRET_EXAMPLE.REDIS_URL),
        portOf(config.HUBSPOT_BASE_URL),
        portOf(config.ENRICHMENT_BASE_URL),
        ...(config.KAFKA_BROKERS?.split(',').map(portOf) ?? []),
        ...(config.OTEL_EXPORTER_OTLP_ENDPOINT ? [portOf(config.OTEL_EXPORTER_OTLP_ENDPOINT)] : []),
      ];
      for (const workload of [...ofKind(manifests(), 'Deployment'), ...ofKind(manifests(), 'Job')]) {
        const labels = podLabels(workload);
        expect(policiesFor(manifests(), labels, 'Egress').length).toBeGreaterThan(0);
        for (const [port, protocol] of [[53, 'UDP'], [53, 'TCP'], ...needed.map((port) => [port, 'TCP'])] as Array<[number, string]>) {
          expect({ pod: workload.metadata.name, port, protocol, allowed: egressAllowed(manifests(), labels, port, protocol) }).toMatchObject({ allowed: true });
        }
        const opened = policiesFor(manifests(), labels, 'Egress').flatMap((policy) => policy.spec.egress.flatMap((rule: Manifest) => rule.ports.map((entry: Manifest) => entry.port)));
        expect({ pod: workload.metadata.name, opened: [...new Set(opened)].sort(byNumber) }).toEqual({ pod: workload.metadata.name, opened: [...new Set([53, ...needed])].sort(byNumber) });
      }
    });
  });

  describe('dev', () => {
    const manifests = () => rendered.get(DEV)!;

    it('runs one api and one worker, and autoscales nothing', () => {
      expect(ofKind(manifests(), 'Deployment').map((workload) => [roleOf(workload), workload.spec.replicas]).sort()).toEqual([
        ['api', 1],
        ['worker', 1],
      ]);
      expect(ofKind(manifests(), 'HorizontalPodAutoscaler')).toEqual([]);
      expect(ofKind(manifests(), 'ScaledObject')).toEqual([]);
    });

    it('uses neither Kafka nor an OpenTelemetry collector', () => {
      expect(Object.keys(configOf(manifests())).filter((name) => name.startsWith('KAFKA_') || name.startsWith('OTEL_'))).toEqual([]);
    });
  });

  describe('prod', () => {
    const manifests = () => rendered.get(PROD)!;

    it('wires Kafka and the OpenTelemetry exporter, through variables the app reads, with values it accepts', () => {
      const config = configOf(manifests());
      const added = Object.keys(config).filter((name) => !(name in configOf(rendered.get(BASE)!)));
      expect(added.sort()).toEqual(['KAFKA_BROKERS', 'KAFKA_INGEST_TOPIC', 'OTEL_EXPORTER_OTLP_ENDPOINT']);
      expect(text('src/config/app-config.ts')).toContain("'KAFKA_BROKERS'");
      expect(text('src/telemetry/tracing.ts')).toContain('env.OTEL_EXPORTER_OTLP_ENDPOINT');
      const loaded = loadConfig({ ...config, ROLE: 'worker', ENCRYPTION_KEY: 'ab'.repeat(32) });
      expect(loaded.kafkaBrokers).toEqual(config.KAFKA_BROKERS.split(','));
      expect(loaded.kafkaIngest?.topic).toBe(config.KAFKA_INGEST_TOPIC);
      expect(new URL(config.OTEL_EXPORTER_OTLP_ENDPOINT).protocol).toMatch(/^https?:$/);
    });

    it('leaves each Deployment\'s replicas to exactly one KEDA ScaledObject, and makes no other autoscaler', () => {
      expect(ofKind(manifests(), 'HorizontalPodAutoscaler')).toEqual([]);
      for (const workload of ofKind(manifests(), 'Deployment')) {
        const scalers = ofKind(manifests(), 'ScaledObject').filter((scaler) => scaler.spec.scaleTargetRef.name === workload.metadata.name);
        expect({ deployment: workload.metadata.name, scalers: scalers.length, replicas: workload.spec.replicas }).toEqual({
          deployment: workload.metadata.name,
          scalers: 1,
          replicas: undefined,
        });
        expect(scalers[0].spec.minReplicaCount).toBeGreaterThanOrEqual(2);
        expect(scalers[0].spec.maxReplicaCount).toBeGreaterThan(scalers[0].spec.minReplicaCount);
      }
    });

    const scalerFor = (role: 'api' | 'worker') =>
      ofKind(manifests(), 'ScaledObject').find((scaler) => scaler.spec.scaleTargetRef.name === deployment(manifests(), role).metadata.name)!;
    const prometheusQuery = (role: 'api' | 'worker'): string => {
      const trigger = scalerFor(role).spec.triggers.find((candidate: Manifest) => candidate.type === 'prometheus');
      expect(Number(trigger.metadata.threshold)).toBeGreaterThan(0);
      return trigger.metadata.query;
    };

    it('scales workers on queue depth: jobs running or waiting in BullMQ per worker slot, from metrics Offload exports', () => {
      const query = prometheusQuery('worker');
      const metrics = [...query.matchAll(/\b(offload_[a-z0-9_]+)/g)].map((match) => match[1]);
      expect(metrics.sort()).toEqual(['offload_queue_jobs', 'offload_worker_slots']);
      for (const metric of metrics) expect(EXPORTED).toContain(metric);
      const states = /state=~"([^"]+)"/.exec(query)![1].split('|');
      expect(QUEUE_STATES).toEqual(expect.arrayContaining(states));
      expect(states.sort()).toEqual(['active', 'prioritized', 'waiting']);
      expect(query).toMatch(/sum by \(type\) \(offload_queue_jobs[^)]*\)\s*\/ on \(type\)\s*max by \(type\) \(offload_worker_slots/);
    });

    it('scales the api on CPU and on the rate of requests it serves, health checks and scrapes left out', () => {
      const triggers: Manifest[] = scalerFor('api').spec.triggers;
      expect(triggers.find((trigger) => trigger.type === 'cpu')).toMatchObject({ metricType: 'Utilization', metadata: { value: expect.stringMatching(/^\d+$/) } });
      for (const container of deployment(manifests(), 'api').spec.template.spec.containers) expect(container.resources.requests.cpu).toBeDefined();
      const query = prometheusQuery('api');
      expect(query).toMatch(/^sum\(rate\(offload_http_request_seconds_count\{[^}]*\}\[\d+m\]\)\)$/);
      expect(EXPORTED).toContain('offload_http_request_seconds_count');
      const excluded = new RegExp(`^(?:${/route!~"([^"]+)"/.exec(query)![1]})$`);
      for (const route of ['/health/live', '/health/ready', '/metrics']) expect(route).toMatch(excluded);
      for (const route of ['/v1/jobs', '/v1/jobs/:id', '/v1/admin/portals']) expect(route).not.toMatch(excluded);
    });
  });
});

describe('the schema check', () => {
  it('finds a wrong type, a missing required field, and a kind it has no schema for', async () => {
    const reports = await schemaReports([
      { apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'replicas-as-text' }, spec: { replicas: 'two', selector: {}, template: {} } },
      { apiVersion: 'keda.sh/v1alpha1', kind: 'ScaledObject', metadata: { name: 'no-target' }, spec: { triggers: [{ type: 'cpu', metadata: {} }] } },
      { apiVersion: 'example.com/v1', kind: 'Widget', metadata: { name: 'unknown' } },
    ]);
    expect(reports).toEqual([
      { kind: 'Deployment', name: 'replicas-as-text', problems: [expect.stringMatching(/^\/spec\/replicas must be integer/)] },
      { kind: 'ScaledObject', name: 'no-target', problems: [expect.stringMatching(/^\/spec must have required property scaleTargetRef/)] },
      { kind: 'Widget', name: 'unknown', problems: [expect.stringContaining('no schema for example.com/v1 Widget')] },
    ]);
  });
});
