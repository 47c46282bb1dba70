/**
 * Static checks of the deployment artefacts in docker/ and k8s/base/ against each other and against
 * the code they deploy: the variables the config loader reads, the paths the app serves, the entry
 * points the build produces. Nothing here needs Docker or a cluster. (The overlays, rendered, and
 * every manifest's schema: test/kubernetes-manifests.e2e-spec.ts.)
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join, posix, resolve } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { AppConfig, loadConfig, Role } from '../../src/config/app-config';
import { ConfigError } from '../../src/config/environment';
import { discoverHandlerClasses } from '../../src/registry/handler-discovery';
import { checkHandlerClasses } from '../../src/registry/handler-registry';
import { readHandlerSettings } from '../../src/registry/handler-settings';
import { CALL_TIMEOUT_MS } from '../../src/hubspot/client/hubspot-gateway';

/** A parsed YAML or JSON document: shapes vary by kind, so fields are read loosely. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Doc = Record<string, any>;
type Env = Record<string, string>;

const ROOT = resolve(__dirname, '..', '..');
const DOCKER_DIR = 'docker';
const K8S_DIR = 'k8s/base';
const K8S_OVERLAYS = ['k8s/overlays/dev', 'k8s/overlays/prod'];
const DOCKERFILE = 'docker/Dockerfile';
const COMPOSE_FILE = 'docker/docker-compose.yml';
const ENV_EXAMPLE = 'docker/.env.example';
const SECRET_EXAMPLE = 'secret.example.yaml';
/** Beside the base, not in it: no overlay applies it. */
const SECRET_EXAMPLE_PATH = `k8s/${SECRET_EXAMPLE}`;
const KUSTOMIZATION = 'kustomization.yaml';

/**
 * Seconds a worker may need after SHUTDOWN_GRACE_MS: HubSpot writes already sent are waited for
 * (one call at most), and it has a few seconds before and after them to hand jobs back, record
 * runs and close its connections.
 */
const SHUTDOWN_MARGIN_S = CALL_TIMEOUT_MS / 1000 + 10;

const text = (file: string): string => readFileSync(join(ROOT, file), 'utf8');
const exists = (file: string): boolean => existsSync(join(ROOT, file));
const isYaml = (file: string): boolean => /\.ya?ml$/.test(file);
const yamlFilesIn = (dir: string): string[] => readdirSync(join(ROOT, dir)).filter(isYaml).sort();

// ---------------------------------------------------------------------------------------------
// What the code expects
// ---------------------------------------------------------------------------------------------

/** Names of the environment variables a source file reads: `read(env, 'X')`, `env.X`, `process.env.X`. */
function envVarsReadBy(file: string): Set<string> {
  const source = text(file);
  const names = new Set<string>();
  for (const pattern of [/\(\s*env\s*,\s*'([A-Z][A-Z0-9_]*)'/g, /\benv\.([A-Z][A-Z0-9_]*)\b/g, /\benv\[\s*'([A-Z][A-Z0-9_]*)'\s*\]/g]) {
    for (const match of source.matchAll(pattern)) names.add(match[1]);
  }
  return names;
}

const CONFIG_VARS = envVarsReadBy('src/config/app-config.ts');
const MIGRATE_VARS = envVarsReadBy('src/database/migrate.ts');
const SCHEMA_WAIT_VARS = envVarsReadBy('src/database/wait-for-schema.ts');
const TRACING_READS_OTEL = [...envVarsReadBy('src/telemetry/tracing.ts')].some((name) => name.startsWith('OTEL_'));
/** The handlers the service discovers at start-up, and the settings they declare. */
const HANDLER_DECLARATIONS = checkHandlerClasses(discoverHandlerClasses());
const HANDLER_VARS = new Set(HANDLER_DECLARATIONS.flatMap((declaration) => Object.keys(declaration.settings ?? {})));

/** Variables the service process accepts: what the config loader reads, the settings handlers declare,
 * the standard OTEL_* (read by the OpenTelemetry SDK started in telemetry/tracing.ts) and Node's own
 * NODE_ENV / NODE_OPTIONS. */
function isKnownServiceVar(name: string): boolean {
  return (
    CONFIG_VARS.has(name) ||
    HANDLER_VARS.has(name) ||
    (TRACING_READS_OTEL && name.startsWith('OTEL_')) ||
    name === 'NODE_ENV' ||
    name === 'NODE_OPTIONS'
  );
}
const isKnownMigrateVar = (name: string): boolean => MIGRATE_VARS.has(name) || name === 'NODE_ENV' || name === 'NODE_OPTIONS';
const isKnownSchemaWaitVar = (name: string): boolean => SCHEMA_WAIT_VARS.has(name) || name === 'NODE_ENV' || name === 'NODE_OPTIONS';

/** Valid values for variables the config loader may demand; a new required variable needs one here. */
const SAMPLE_VALUES: Env = {
  ENCRYPTION_KEY: 'ab'.repeat(32),
  // A rotation's list, which must name ENCRYPTION_KEY when both are set.
  ENCRYPTION_KEYS: `${'cd'.repeat(32)},${'ab'.repeat(32)}`,
  ADMIN_TOKEN: 'sample-admin-token-0123456789',
  METRICS_TOKEN: 'sample-metrics-token-0123456789',
  DATABASE_URL: 'postgres://offload:secret@db.internal:5432/offload',
  REDIS_URL: 'redis://:secret@redis.internal:6379/0',
  HUBSPOT_CLIENT_SECRET: 'sample-client-secret',
  PUBLIC_BASE_URL: 'https://offload.example.com',
  KAFKA_BROKERS: 'kafka.internal:9092',
};

/**
 * The variables start-up refuses to go without for a role, found by asking it: start from
 * ROLE alone and add whatever variable each ConfigError names until it succeeds.
 */
function requiredVars(role: Role): string[] {
  const env: Env = { ROLE: role };
  const required: string[] = [];
  for (;;) {
    try {
      configFor(env);
      return required;
    } catch (error) {
      if (!(error instanceof ConfigError)) throw error;
      const name = error.variable;
      if (name in env || !(name in SAMPLE_VALUES)) throw new Error(`No valid sample for required ${name}: ${error.message}`);
      env[name] = SAMPLE_VALUES[name];
      required.push(name);
    }
  }
}

const REQUIRED: Record<'api' | 'worker', string[]> = { api: requiredVars('api'), worker: requiredVars('worker') };
/** Their defaults point at 127.0.0.1, which is never right inside a container. */
const CONNECTION_VARS = ['DATABASE_URL', 'REDIS_URL'];

/** Routes of a Nest controller: `@Controller('health')` + `@Get('live')` -> /health/live. */
function routesOf(file: string): Set<string> {
  const source = text(file);
  const prefix = /@Controller\(\s*'([^']*)'\s*\)/.exec(source)?.[1] ?? '';
  const routes = new Set<string>();
  for (const match of source.matchAll(/@Get\(\s*(?:'([^']*)')?\s*\)/g)) {
    routes.add(posix.join('/', prefix, match[1] ?? ''));
  }
  return routes;
}

const HEALTH_ROUTES = routesOf('src/health/health.controller.ts');
const METRICS_ROUTES = routesOf('src/metrics/metrics.controller.ts');
const LIVE_PATH = '/health/live';
const READY_PATH = '/health/ready';

/** dist/src/x/y.js -> src/x/y.ts: the source file the build compiles into that entry point. */
function sourceOf(distPath: string): string {
  return distPath.replace(/^(\.\/)?dist\//, '').replace(/\.js$/, '.ts');
}

const packageJson = JSON.parse(text('package.json')) as { devDependencies: Record<string, string> };
const NODE_MAJOR = Number(/(\d+)/.exec(packageJson.devDependencies.node)?.[1]);

/** The configuration the service starts with, its handlers' settings read (and checked) as start-up reads them. */
function configFor(env: Env): AppConfig {
  const config = loadConfig(env);
  readHandlerSettings(HANDLER_DECLARATIONS, env);
  return config;
}

/** The variable a ConfigError names, or undefined when the config loads. */
function rejectedVariable(load: () => unknown): string | undefined {
  try {
    load();
    return undefined;
  } catch (error) {
    if (error instanceof ConfigError) return error.variable;
    throw error;
  }
}

// ---------------------------------------------------------------------------------------------
// Parsing helpers
// ---------------------------------------------------------------------------------------------

interface ParsedYaml {
  file: string;
  docs: Doc[];
  errors: string[];
}

function parseYamlFile(file: string): ParsedYaml {
  const documents = parseAllDocuments(text(file), { merge: true, prettyErrors: true });
  const list = Array.isArray(documents) ? documents : [documents];
  const errors = list.flatMap((document) => document.errors.map((error) => error.message));
  const docs = errors.length ? [] : list.map((document) => document.toJS() as Doc).filter((doc) => doc !== null && doc !== undefined);
  return { file, docs, errors };
}

interface Instruction {
  keyword: string;
  args: string;
}

interface Stage {
  image: string;
  name: string | undefined;
  instructions: Instruction[];
}

/** Dockerfile instructions, with line continuations joined and comments dropped. */
function parseDockerfile(source: string): Stage[] {
  const instructions: Instruction[] = [];
  let pending = '';
  for (const rawLine of source.split('\n')) {
    const line = rawLine.trim();
    if (line.startsWith('#') || (line === '' && pending === '')) continue;
    if (line.endsWith('\\')) {
      pending += `${line.slice(0, -1).trim()} `;
      continue;
    }
    const full = (pending + line).trim();
    pending = '';
    if (full === '') continue;
    const match = /^(\S+)\s*(.*)$/.exec(full)!;
    instructions.push({ keyword: match[1].toUpperCase(), args: match[2] });
  }
  const stages: Stage[] = [];
  for (const instruction of instructions) {
    if (instruction.keyword === 'FROM') {
      const words = instruction.args.split(/\s+/).filter((word) => !word.startsWith('--'));
      const asIndex = words.findIndex((word) => word.toUpperCase() === 'AS');
      stages.push({ image: words[0], name: asIndex >= 0 ? words[asIndex + 1] : undefined, instructions: [] });
    } else {
      if (!stages.length) continue; // ARG before the first FROM
      stages[stages.length - 1].instructions.push(instruction);
    }
  }
  return stages;
}

function flags(args: string): { flags: Record<string, string>; rest: string[] } {
  const result: Record<string, string> = {};
  const rest: string[] = [];
  for (const word of args.split(/\s+/).filter(Boolean)) {
    const flag = /^--([a-z-]+)(?:=(.*))?$/.exec(word);
    if (flag && rest.length === 0) result[flag[1]] = flag[2] ?? 'true';
    else rest.push(word);
  }
  return { flags: result, rest };
}

function execForm(args: string): string[] | undefined {
  const body = flags(args).rest.join(' ');
  try {
    const parsed: unknown = JSON.parse(body);
    return Array.isArray(parsed) ? parsed.map(String) : undefined;
  } catch {
    return undefined;
  }
}

/** `ENV A=1 B=2` and `ENV A 1` forms. */
function envOf(stage: Stage): Env {
  const env: Env = {};
  for (const { keyword, args } of stage.instructions) {
    if (keyword !== 'ENV') continue;
    if (!args.includes('=')) {
      const [name, ...value] = args.split(/\s+/);
      env[name] = value.join(' ');
      continue;
    }
    for (const match of args.matchAll(/([A-Za-z_][A-Za-z0-9_]*)=("(?:[^"\\]|\\.)*"|\S*)/g)) {
      env[match[1]] = match[2].replace(/^"(.*)"$/, '$1');
    }
  }
  return env;
}

/** A .dockerignore matcher following Docker's rules: last matching pattern wins, a match on a parent
 * directory covers its contents, `!` re-includes. */
function dockerIgnoreMatcher(source: string): (path: string) => boolean {
  const rules = source
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line && !line.startsWith('#'))
    .map((line) => {
      const negate = line.startsWith('!');
      const pattern = posix.normalize((negate ? line.slice(1) : line).trim()).replace(/^\/+|\/+$/g, '');
      let regex = '';
      for (let i = 0; i < pattern.length; i++) {
        const char = pattern[i];
        if (char === '*' && pattern[i + 1] === '*') {
          const slash = pattern[i + 2] === '/';
          regex += slash ? '(?:.*/)?' : '.*';
          i += slash ? 2 : 1;
        } else if (char === '*') regex += '[^/]*';
        else if (char === '?') regex += '[^/]';
        else regex += char.replace(/[.+^${}()|[\]\\]/g, '\\$&');
      }
      return { negate, regex: new RegExp(`^${regex}$`) };
    });
  return (path: string) => {
    const parts = posix.normalize(path).replace(/^\/+|\/+$/g, '').split('/');
    const candidates = parts.map((_, index) => parts.slice(0, index + 1).join('/'));
    let ignored = false;
    for (const rule of rules) {
      if (candidates.some((candidate) => rule.regex.test(candidate))) ignored = !rule.negate;
    }
    return ignored;
  };
}

/** Kubernetes quantities: cpu in cores, memory in bytes. */
function quantity(value: string | number): number {
  if (typeof value === 'number') return value;
  const match = /^([0-9.]+)([a-zA-Z]*)$/.exec(value.trim());
  if (!match) throw new Error(`Not a quantity: ${value}`);
  const units: Record<string, number> = {
    '': 1, m: 1e-3, k: 1e3, M: 1e6, G: 1e9, Ki: 1024, Mi: 1024 ** 2, Gi: 1024 ** 3,
  };
  if (!(match[2] in units)) throw new Error(`Unknown unit in ${value}`);
  return Number(match[1]) * units[match[2]];
}

/** Compose durations: 40s, 1m30s, 500ms. */
function durationSeconds(value: string | number): number {
  if (typeof value === 'number') return value;
  let total = 0;
  for (const [, amount, unit] of value.matchAll(/([0-9.]+)(ms|us|h|m|s)/g)) {
    total += Number(amount) * { h: 3600, m: 60, s: 1, ms: 1e-3, us: 1e-6 }[unit as 'h' | 'm' | 's' | 'ms' | 'us'];
  }
  return total;
}

const matchesSelector = (selector: Record<string, string>, labels: Record<string, string> | undefined): boolean =>
  Object.keys(selector).length > 0 && Object.entries(selector).every(([key, value]) => labels?.[key] === value);

// ---------------------------------------------------------------------------------------------
// Every YAML file
// ---------------------------------------------------------------------------------------------

const ALL_YAML = [
  ...[DOCKER_DIR, K8S_DIR, ...K8S_OVERLAYS].flatMap((dir) => yamlFilesIn(dir).map((file) => `${dir}/${file}`)),
  SECRET_EXAMPLE_PATH,
];
const PARSED = new Map(ALL_YAML.map((file) => [file, parseYamlFile(file)]));

describe('deployment YAML', () => {
  it('finds the compose file and the Kubernetes manifests', () => {
    expect(ALL_YAML).toContain(COMPOSE_FILE);
    expect(ALL_YAML).toContain(`${K8S_DIR}/${KUSTOMIZATION}`);
  });

  it.each(ALL_YAML)('%s parses', (file) => {
    const parsed = PARSED.get(file)!;
    expect(parsed.errors).toEqual([]);
    expect(parsed.docs.length).toBeGreaterThan(0);
  });

  it('extracts the variables the config loader reads and the handlers declare (guards the extraction itself)', () => {
    for (const name of ['ROLE', 'PORT', 'DATABASE_URL', 'REDIS_URL', 'ENCRYPTION_KEY', 'ADMIN_TOKEN', 'SHUTDOWN_GRACE_MS']) {
      expect(CONFIG_VARS).toContain(name);
    }
    expect(MIGRATE_VARS).toContain('DATABASE_URL');
    expect([...HANDLER_VARS]).toEqual(expect.arrayContaining(['ENRICHMENT_BASE_URL', 'ENRICHMENT_CACHE_TTL_S', 'ENRICHMENT_NO_MATCH_TTL_S']));
    expect(REQUIRED.api).toEqual(expect.arrayContaining(['ENCRYPTION_KEY', 'ADMIN_TOKEN']));
    expect(REQUIRED.worker).toContain('ENCRYPTION_KEY');
    expect(REQUIRED.worker).not.toContain('ADMIN_TOKEN');
    expect(HEALTH_ROUTES).toEqual(new Set([LIVE_PATH, READY_PATH]));
    expect(METRICS_ROUTES).toEqual(new Set(['/metrics']));
  });
});

// ---------------------------------------------------------------------------------------------
// Dockerfile
// ---------------------------------------------------------------------------------------------

describe('docker/Dockerfile', () => {
  const stages = parseDockerfile(text(DOCKERFILE));
  const final = stages[stages.length - 1];
  const stageNames = new Set(stages.map((stage) => stage.name).filter(Boolean));
  const instructionsOf = (stage: Stage, keyword: string) => stage.instructions.filter((instruction) => instruction.keyword === keyword);
  const isIgnored = dockerIgnoreMatcher(exists(`${DOCKERFILE}.dockerignore`) ? text(`${DOCKERFILE}.dockerignore`) : '');

  it('is multi-stage, and every base image is Node of the major the project pins', () => {
    expect(stages.length).toBeGreaterThanOrEqual(2);
    expect(NODE_MAJOR).toBe(24);
    for (const stage of stages) {
      if (stageNames.has(stage.image)) continue;
      expect(stage.image).toMatch(new RegExp(`^node:${NODE_MAJOR}(?:[.-]|$)`));
    }
  });

  it('installs with npm ci and builds in an earlier stage, and ships only production dependencies', () => {
    const buildRuns = stages.slice(0, -1).flatMap((stage) => instructionsOf(stage, 'RUN')).map((run) => run.args);
    expect(buildRuns.some((run) => /\bnpm ci\b/.test(run))).toBe(true);
    expect(buildRuns.some((run) => /\bnpm run build\b/.test(run))).toBe(true);

    for (const run of instructionsOf(final, 'RUN')) {
      expect(run.args).not.toMatch(/\bnpm (ci|install|i)\b(?![^&;|]*--omit=dev)/);
    }
    const copies = instructionsOf(final, 'COPY').map((copy) => flags(copy.args));
    const modules = copies.find((copy) => copy.rest.some((path) => /node_modules/.test(path)));
    expect(modules).toBeDefined();
    const source = stages.find((stage) => stage.name === modules!.flags.from);
    expect(source).toBeDefined();
    expect(instructionsOf(source!, 'RUN').some((run) => /\bnpm (prune|ci|install)\b[^&;|]*--omit=dev/.test(run.args))).toBe(true);
  });

  it('copies only from earlier stages, and only files that exist and the ignore file lets through', () => {
    expect(exists(`${DOCKERFILE}.dockerignore`)).toBe(true);
    stages.forEach((stage, index) => {
      for (const copy of [...instructionsOf(stage, 'COPY'), ...instructionsOf(stage, 'ADD')]) {
        const { flags: copyFlags, rest } = flags(copy.args);
        if (copyFlags.from) {
          expect(stages.slice(0, index).map((earlier) => earlier.name)).toContain(copyFlags.from);
          continue;
        }
        for (const source of rest.slice(0, -1)) {
          expect(exists(source)).toBe(true);
          expect({ source, ignored: isIgnored(source) }).toEqual({ source, ignored: false });
        }
      }
    });
  });

  it('keeps local state and secrets out of the build context', () => {
    for (const path of ['node_modules', 'dist', '.git', '.env', 'docker/.env', '.env.local', 'coverage', 'test/jobs-api.e2e-spec.ts']) {
      expect({ path, ignored: isIgnored(path) }).toEqual({ path, ignored: true });
    }
  });

  it('runs the compiled entry point as a non-root user in production mode', () => {
    const users = instructionsOf(final, 'USER');
    expect(users.length).toBeGreaterThan(0);
    const user = users[users.length - 1].args.trim().split(':')[0];
    expect(['root', '0', '']).not.toContain(user);

    expect(envOf(final).NODE_ENV).toBe('production');

    const cmd = instructionsOf(final, 'CMD');
    expect(cmd).toHaveLength(1);
    expect(execForm(cmd[0].args)).toEqual(['node', 'dist/src/main.js']);
    expect(exists(sourceOf('dist/src/main.js'))).toBe(true);
    expect(instructionsOf(final, 'ENTRYPOINT')).toHaveLength(0);
  });

  it('exposes the port the app listens on and health-checks a served liveness path', () => {
    const defaultPort = configFor({ ROLE: 'worker', ENCRYPTION_KEY: SAMPLE_VALUES.ENCRYPTION_KEY }).port;
    const exposed = instructionsOf(final, 'EXPOSE').flatMap((expose) => expose.args.split(/\s+/)).map((port) => Number(port.split('/')[0]));
    expect(exposed).toContain(envOf(final).PORT ? Number(envOf(final).PORT) : defaultPort);

    const healthchecks = instructionsOf(final, 'HEALTHCHECK');
    expect(healthchecks).toHaveLength(1);
    expect(healthchecks[0].args).toContain(LIVE_PATH);
    expect(HEALTH_ROUTES).toContain(LIVE_PATH);
  });
});

// ---------------------------------------------------------------------------------------------
// docker compose
// ---------------------------------------------------------------------------------------------

/** Resolves ${VAR}, ${VAR:-default}, ${VAR-default}, ${VAR:?error} like compose does. */
function interpolate(value: string, vars: Env): string {
  return value.replace(/\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?])([^}]*))?\}/g, (_, name: string, operator: string | undefined, arg: string) => {
    const set = vars[name];
    if (operator === ':-') return set ? set : arg;
    if (operator === '-') return set ?? arg;
    if (operator?.endsWith('?')) {
      if (set === undefined || (operator === ':?' && set === '')) throw new Error(`compose refuses to start: ${name} ${arg}`);
      return set;
    }
    return set ?? '';
  });
}

function readDotEnv(file: string): { values: Env; documented: Set<string> } {
  const values: Env = {};
  const documented = new Set<string>();
  for (const line of text(file).split('\n')) {
    const commented = /^#\s*([A-Z][A-Z0-9_]*)=/.exec(line.trim());
    if (commented) documented.add(commented[1]);
    const match = /^([A-Z][A-Z0-9_]*)=(.*)$/.exec(line.trim());
    if (match) {
      values[match[1]] = match[2].replace(/^(['"])(.*)\1$/, '$2');
      documented.add(match[1]);
    }
  }
  return { values, documented };
}

describe('docker/docker-compose.yml', () => {
  const compose = PARSED.get(COMPOSE_FILE)?.docs[0] ?? {};
  const services: Record<string, Doc> = compose.services ?? {};
  const serviceNames = Object.keys(services);

  const environmentOf = (service: Doc): Record<string, string> => {
    const environment = service.environment ?? {};
    if (Array.isArray(environment)) {
      return Object.fromEntries(environment.map((entry: string) => [entry.split('=')[0], entry.split('=').slice(1).join('=')]));
    }
    return Object.fromEntries(Object.entries(environment).map(([key, value]) => [key, value === null ? '' : String(value)]));
  };
  const commandOf = (service: Doc): string => [service.entrypoint ?? [], service.command ?? []].flat().join(' ');
  const dependsOf = (service: Doc): Record<string, string> => {
    const dependsOn = service.depends_on ?? {};
    if (Array.isArray(dependsOn)) return Object.fromEntries(dependsOn.map((name: string) => [name, 'service_started']));
    return Object.fromEntries(Object.entries(dependsOn).map(([name, spec]) => [name, (spec as Doc)?.condition ?? 'service_started']));
  };

  const appServices = serviceNames.filter((name) => services[name].build?.dockerfile === DOCKERFILE);
  const byRole = (role: string) => serviceNames.filter((name) => environmentOf(services[name]).ROLE === role);
  const migrateServices = serviceNames.filter((name) => /dist\/src\/database\/migrate\.js/.test(commandOf(services[name])));

  // Secrets resolved to valid samples, optional variables unset: what a correct docker/.env yields.
  const sampleVars: Env = Object.fromEntries(REQUIRED.api.map((name) => [name, SAMPLE_VALUES[name]]));
  const resolvedEnv = (name: string, vars: Env = sampleVars): Env =>
    Object.fromEntries(Object.entries(environmentOf(services[name])).map(([key, value]) => [key, interpolate(value, vars)]));

  it('builds the app image from the repository root with docker/Dockerfile and its ignore file', () => {
    expect(appServices.length).toBeGreaterThanOrEqual(3);
    const images = new Set(appServices.map((name) => services[name].image));
    expect(images.size).toBe(1);
    for (const name of appServices) {
      const build = services[name].build;
      expect(build).toBeDefined();
      expect(resolve(ROOT, DOCKER_DIR, build.context)).toBe(ROOT);
      expect(exists(build.dockerfile)).toBe(true);
      expect(exists(`${build.dockerfile}.dockerignore`)).toBe(true);
    }
  });

  it('references only defined services and declared volumes', () => {
    const declaredVolumes = new Set(Object.keys(compose.volumes ?? {}));
    const usedVolumes = new Set<string>();
    for (const [name, service] of Object.entries(services)) {
      for (const dependency of Object.keys(dependsOf(service))) {
        expect({ service: name, dependsOn: dependency, defined: serviceNames.includes(dependency) }).toMatchObject({ defined: true });
      }
      for (const volume of service.volumes ?? []) {
        const source: string | undefined =
          typeof volume === 'string' ? (volume.includes(':') ? volume.split(':')[0] : undefined) : volume.type === 'volume' ? volume.source : undefined;
        if (!source || /^[./~$]/.test(source)) continue;
        usedVolumes.add(source);
        expect({ service: name, volume: source, declared: declaredVolumes.has(source) }).toMatchObject({ declared: true });
      }
    }
    expect([...declaredVolumes].filter((volume) => !usedVolumes.has(volume))).toEqual([]);
  });

  it('waits only on healthchecks that exist and on one-shot services that can complete', () => {
    for (const [name, service] of Object.entries(services)) {
      for (const [dependency, condition] of Object.entries(dependsOf(service))) {
        expect(['service_started', 'service_healthy', 'service_completed_successfully']).toContain(condition);
        if (condition === 'service_healthy') {
          expect({ service: name, dependency, healthcheck: Boolean(services[dependency]?.healthcheck?.test) }).toMatchObject({ healthcheck: true });
        }
        if (condition === 'service_completed_successfully') {
          expect(['no', undefined, 'on-failure']).toContain(services[dependency]?.restart?.split(':')[0]);
        }
      }
    }
  });

  it('runs exactly one api and one worker service, with the right ROLE', () => {
    expect(byRole('api')).toHaveLength(1);
    expect(byRole('worker')).toHaveLength(1);
    for (const name of [...byRole('api'), ...byRole('worker')]) expect(appServices).toContain(name);
    // Without ROLE a container runs as `all`: API and workers in one process.
    const withoutRole = appServices.filter((name) => !migrateServices.includes(name) && !environmentOf(services[name]).ROLE);
    expect(withoutRole).toEqual([]);
  });

  it('runs migrations in one one-shot service and never in the api or worker', () => {
    expect(migrateServices).toHaveLength(1);
    const migrate = services[migrateServices[0]];
    expect(commandOf(migrate)).toBe('node dist/src/database/migrate.js');
    expect(exists(sourceOf('dist/src/database/migrate.js'))).toBe(true);
    expect(['no', 'on-failure']).toContain(String(migrate.restart ?? 'no').split(':')[0]);
    for (const name of [...byRole('api'), ...byRole('worker')]) {
      expect(commandOf(services[name])).not.toMatch(/migrate/);
    }
    for (const key of Object.keys(environmentOf(migrate))) expect({ key, known: isKnownMigrateVar(key) }).toEqual({ key, known: true });
    expect(resolvedEnv(migrateServices[0]).DATABASE_URL).toBe(resolvedEnv(byRole('api')[0]).DATABASE_URL);
  });

  it.each(['api', 'worker'] as const)('gives the %s every variable its role requires, and no unknown ones', (role) => {
    const name = byRole(role)[0];
    const environment = environmentOf(services[name]);
    for (const key of Object.keys(environment)) expect({ key, known: isKnownServiceVar(key) }).toEqual({ key, known: true });
    for (const key of [...REQUIRED[role], ...CONNECTION_VARS]) {
      expect({ key, value: environment[key] ?? '' }).not.toMatchObject({ value: '' });
    }
    const config = configFor(resolvedEnv(name));
    expect(config.role).toBe(role);
  });

  it('points the app at the compose services for PostgreSQL, Redis and Kafka, with matching credentials', () => {
    for (const role of ['api', 'worker'] as const) {
      const env = resolvedEnv(byRole(role)[0]);
      const database = new URL(env.DATABASE_URL);
      const redis = new URL(env.REDIS_URL);
      expect(serviceNames).toContain(database.hostname);
      expect(serviceNames).toContain(redis.hostname);

      const postgresEnv = environmentOf(services[database.hostname]);
      expect(decodeURIComponent(database.username)).toBe(postgresEnv.POSTGRES_USER ?? 'postgres');
      expect(decodeURIComponent(database.password)).toBe(postgresEnv.POSTGRES_PASSWORD);

      expect(env.KAFKA_BROKERS).toBeTruthy();
      for (const broker of env.KAFKA_BROKERS.split(',')) {
        const [host, port] = broker.trim().split(':');
        expect(serviceNames).toContain(host);
        const advertised = environmentOf(services[host]).KAFKA_ADVERTISED_LISTENERS ?? '';
        expect(advertised).toContain(`${host}:${port}`);
      }
    }
  });

  it.each(['api', 'worker'] as const)('starts the %s after a completed migration and healthy PostgreSQL and Redis', (role) => {
    const name = byRole(role)[0];
    const env = resolvedEnv(name);
    const depends = dependsOf(services[name]);
    expect(depends[migrateServices[0]]).toBe('service_completed_successfully');
    expect(depends[new URL(env.DATABASE_URL).hostname]).toBe('service_healthy');
    expect(depends[new URL(env.REDIS_URL).hostname]).toBe('service_healthy');
    expect(dependsOf(services[migrateServices[0]])[new URL(env.DATABASE_URL).hostname]).toBe('service_healthy');
  });

  it('publishes the api on the port it listens on, and health-checks paths the app serves', () => {
    const api = byRole('api')[0];
    const port = configFor(resolvedEnv(api)).port;
    const published = (services[api].ports ?? []).map((entry: string | Doc) =>
      typeof entry === 'string' ? Number(entry.split(':').pop()!.split('/')[0]) : Number(entry.target),
    );
    expect(published).toContain(port);
    for (const name of [api, byRole('worker')[0]]) {
      const test = [services[name].healthcheck?.test ?? []].flat().join(' ');
      const paths = [...test.matchAll(/https?:\/\/[^/'"\s]+(\/[^'"\s)]*)/g)].map((match) => match[1]);
      expect(paths.length).toBeGreaterThan(0);
      for (const path of paths) expect(HEALTH_ROUTES).toContain(path);
      for (const hostPort of test.matchAll(/https?:\/\/[^:/]+:(\d+)/g)) expect(Number(hostPort[1])).toBe(configFor(resolvedEnv(name)).port);
    }
  });

  it('gives the worker more stop time than its shutdown grace', () => {
    const worker = byRole('worker')[0];
    const graceMs = configFor(resolvedEnv(worker)).shutdownGraceMs;
    expect(durationSeconds(services[worker].stop_grace_period ?? '10s')).toBeGreaterThanOrEqual(graceMs / 1000 + SHUTDOWN_MARGIN_S);
  });

  it('documents every variable it interpolates in .env.example, with placeholders the app rejects', () => {
    const { values, documented } = readDotEnv(ENV_EXAMPLE);
    const raw = text(COMPOSE_FILE);
    const interpolated = new Set([...raw.matchAll(/\$\{([A-Za-z_][A-Za-z0-9_]*)/g)].map((match) => match[1]));
    for (const name of interpolated) expect({ name, documented: documented.has(name) }).toEqual({ name, documented: true });
    for (const match of raw.matchAll(/\$\{([A-Za-z_][A-Za-z0-9_]*):\?/g)) expect(values[match[1]]).toBeDefined();
    expect(text(ENV_EXAMPLE)).toContain('openssl rand -hex 32');

    // Each placeholder left unchanged must stop start-up, so no service runs with a guessable key or token.
    for (const role of ['api', 'worker'] as const) {
      for (const name of REQUIRED[role]) {
        expect(rejectedVariable(() => configFor(resolvedEnv(byRole(role)[0], { ...sampleVars, [name]: values[name] ?? '' })))).toBe(name);
      }
    }
  });
});

// ---------------------------------------------------------------------------------------------
// Kubernetes
// ---------------------------------------------------------------------------------------------

interface Manifest {
  file: string;
  doc: Doc;
}

interface Workload extends Manifest {
  pod: Doc;
  labels: Record<string, string>;
}

describe('k8s/', () => {
  const files = yamlFilesIn(K8S_DIR);
  const manifests: Manifest[] = [
    ...files.flatMap((file) => (PARSED.get(`${K8S_DIR}/${file}`)?.docs ?? []).map((doc) => ({ file, doc }))),
    ...(PARSED.get(SECRET_EXAMPLE_PATH)?.docs ?? []).map((doc) => ({ file: SECRET_EXAMPLE, doc })),
  ];
  const resources = manifests.filter(({ doc }) => doc.kind !== 'Kustomization');
  const ofKind = (kind: string) => resources.filter(({ doc }) => doc.kind === kind);
  const kustomization = manifests.find(({ file }) => file === KUSTOMIZATION)?.doc ?? {};
  const namespace = ofKind('Namespace')[0]?.doc.metadata.name as string;

  const configMaps = new Map(ofKind('ConfigMap').map(({ doc }) => [doc.metadata.name as string, (doc.data ?? {}) as Env]));
  const secretExample = resources.find(({ file }) => file === SECRET_EXAMPLE)?.doc ?? {};
  const secretKeys = (name: string): string[] | undefined =>
    secretExample.metadata?.name === name ? [...Object.keys(secretExample.stringData ?? {}), ...Object.keys(secretExample.data ?? {})] : undefined;

  const workloads: Workload[] = [...ofKind('Deployment'), ...ofKind('Job')].map((manifest) => ({
    ...manifest,
    pod: manifest.doc.spec.template.spec,
    labels: manifest.doc.spec.template.metadata?.labels ?? {},
  }));
  const deployments = workloads.filter(({ doc }) => doc.kind === 'Deployment');
  const jobs = workloads.filter(({ doc }) => doc.kind === 'Job');
  const containersOf = (workload: Workload): Doc[] => workload.pod.containers ?? [];
  const initContainersOf = (workload: Workload): Doc[] => workload.pod.initContainers ?? [];
  const everyContainerOf = (workload: Workload): Doc[] => [...initContainersOf(workload), ...containersOf(workload)];
  const literalEnv = (container: Doc, name: string): string | undefined => (container.env ?? []).find((entry: Doc) => entry.name === name)?.value;
  const deploymentFor = (role: 'api' | 'worker'): Workload[] =>
    deployments.filter((workload) => containersOf(workload).some((container) => literalEnv(container, 'ROLE') === role));
  const portsOf = (container: Doc): Doc[] => container.ports ?? [];

  /** The environment a container gets; secret values become valid samples, since the example holds placeholders. */
  function effectiveEnv(container: Doc, secretValue: (key: string) => string = (key) => SAMPLE_VALUES[key] ?? 'sample'): Env {
    const env: Env = {};
    for (const source of container.envFrom ?? []) {
      const prefix: string = source.prefix ?? '';
      if (source.configMapRef) {
        for (const [key, value] of Object.entries(configMaps.get(source.configMapRef.name) ?? {})) env[prefix + key] = String(value);
      }
      if (source.secretRef) for (const key of secretKeys(source.secretRef.name) ?? []) env[prefix + key] = secretValue(key);
    }
    for (const entry of container.env ?? []) {
      if (entry.value !== undefined) env[entry.name] = String(entry.value);
      else if (entry.valueFrom?.secretKeyRef) env[entry.name] = secretValue(entry.valueFrom.secretKeyRef.key);
      else if (entry.valueFrom?.configMapKeyRef) {
        const { name, key } = entry.valueFrom.configMapKeyRef;
        env[entry.name] = configMaps.get(name)?.[key] ?? '';
      }
    }
    return env;
  }

  function resolvePort(container: Doc, port: string | number): number | undefined {
    if (typeof port === 'number') return portsOf(container).some((entry) => entry.containerPort === port) ? port : undefined;
    return portsOf(container).find((entry) => entry.name === port)?.containerPort;
  }

  it('gives every manifest apiVersion, kind and a name, in the namespace namespace.yaml defines', () => {
    expect(ofKind('Namespace')).toHaveLength(1);
    expect(ofKind('Namespace')[0].file).toBe('namespace.yaml');
    expect(kustomization.namespace).toBe(namespace);
    for (const { file, doc } of manifests) {
      expect({ file, apiVersion: typeof doc.apiVersion, kind: typeof doc.kind }).toEqual({ file, apiVersion: 'string', kind: 'string' });
      if (doc.kind === 'Kustomization') continue;
      expect({ file, name: typeof doc.metadata?.name }).toEqual({ file, name: 'string' });
      if (doc.kind !== 'Namespace') expect({ file, namespace: doc.metadata.namespace }).toEqual({ file, namespace });
    }
    const keys = resources.map(({ doc }) => `${doc.kind}/${doc.metadata.name}`);
    expect(keys.filter((key, index) => keys.indexOf(key) !== index)).toEqual([]);
  });

  it('lists exactly the manifests present in kustomization.yaml, except the secret example', () => {
    const expected = files.filter((file) => file !== KUSTOMIZATION).sort();
    expect([...(kustomization.resources ?? [])].sort()).toEqual(expected);
    expect(kustomization.resources).not.toContain(SECRET_EXAMPLE);
  });

  it('runs one image everywhere, and the kustomize images entry governs it', () => {
    const images = new Set(workloads.flatMap((workload) => containersOf(workload).map((container) => container.image as string)));
    expect(images.size).toBe(1);
    const [image] = [...images];
    const entry = (kustomization.images ?? []).find((candidate: Doc) => candidate.name === image.split(':')[0]);
    expect(entry).toBeDefined();
    expect(`${entry.newName ?? entry.name}:${entry.newTag}`).toBe('offload:latest');
  });

  it('keeps the secret example a placeholder Opaque Secret the service would refuse', () => {
    expect(secretExample.kind).toBe('Secret');
    expect(secretExample.type).toBe('Opaque');
    for (const key of secretKeys(secretExample.metadata.name)!) expect({ key, known: isKnownServiceVar(key) }).toEqual({ key, known: true });
    const placeholders: Env = { ...secretExample.stringData };
    for (const role of ['api', 'worker'] as const) {
      for (const workload of deploymentFor(role)) {
        for (const container of containersOf(workload)) {
          for (const name of REQUIRED[role]) {
            const env = effectiveEnv(container, (key) => (key === name ? (placeholders[key] ?? '') : (SAMPLE_VALUES[key] ?? 'sample')));
            expect(rejectedVariable(() => configFor(env))).toBe(name);
          }
        }
      }
    }
  });

  it('selects each workload pods by its own labels, and no other workload pods', () => {
    for (const workload of workloads) {
      const selector: Record<string, string> | undefined = workload.doc.spec.selector?.matchLabels;
      if (workload.doc.kind === 'Job' && !selector) continue;
      expect({ file: workload.file, matches: matchesSelector(selector ?? {}, workload.labels) }).toEqual({ file: workload.file, matches: true });
      for (const other of workloads) {
        if (other === workload) continue;
        const overlaps = matchesSelector(selector ?? {}, other.labels);
        expect({ file: workload.file, other: other.file, overlaps }).toMatchObject({ overlaps: false });
      }
    }
  });

  it('runs one api and one worker Deployment with the right ROLE, and a migration Job', () => {
    expect(deploymentFor('api')).toHaveLength(1);
    expect(deploymentFor('worker')).toHaveLength(1);
    expect(deployments).toHaveLength(2);
    expect(jobs).toHaveLength(1);
  });

  it('refers only to the ConfigMap and Secret that exist, and to keys they hold', () => {
    for (const workload of workloads) {
      for (const container of containersOf(workload)) {
        for (const source of container.envFrom ?? []) {
          if (source.configMapRef) expect([...configMaps.keys()]).toContain(source.configMapRef.name);
          if (source.secretRef) expect(secretKeys(source.secretRef.name)).toBeDefined();
        }
        for (const entry of container.env ?? []) {
          const secretRef = entry.valueFrom?.secretKeyRef;
          const configMapRef = entry.valueFrom?.configMapKeyRef;
          if (secretRef) {
            const exists = secretKeys(secretRef.name)?.includes(secretRef.key) ?? false;
            expect({ env: entry.name, ...secretRef, exists }).toMatchObject({ exists: true });
          }
          if (configMapRef) {
            const exists = configMapRef.key in (configMaps.get(configMapRef.name) ?? {});
            expect({ env: entry.name, ...configMapRef, exists }).toMatchObject({ exists: true });
          }
        }
      }
    }
  });

  it('sets only variables the app reads, in containers and in the ConfigMap', () => {
    for (const data of configMaps.values()) {
      for (const key of Object.keys(data)) expect({ key, known: isKnownServiceVar(key) }).toEqual({ key, known: true });
    }
    for (const workload of workloads) {
      const known = workload.doc.kind === 'Job' ? isKnownMigrateVar : isKnownServiceVar;
      for (const container of containersOf(workload)) {
        for (const key of Object.keys(effectiveEnv(container))) {
          expect({ file: workload.file, key, known: known(key) }).toEqual({ file: workload.file, key, known: true });
        }
      }
      for (const container of initContainersOf(workload)) {
        for (const key of Object.keys(effectiveEnv(container))) {
          expect({ file: workload.file, key, known: isKnownSchemaWaitVar(key) }).toEqual({ file: workload.file, key, known: true });
        }
      }
    }
  });

  it.each(['api', 'worker'] as const)('gives the %s containers every variable their role requires, and a config that loads', (role) => {
    for (const workload of deploymentFor(role)) {
      for (const container of containersOf(workload)) {
        const env = effectiveEnv(container);
        for (const key of [...REQUIRED[role], ...CONNECTION_VARS]) expect({ key, set: key in env }).toEqual({ key, set: true });
        const config = configFor(env);
        expect(config.role).toBe(role);
        expect(portsOf(container).map((port) => port.containerPort)).toContain(config.port);
      }
    }
  });

  it('hands ENCRYPTION_KEYS (a key rotation) to every api and worker container, optional and empty in the example', () => {
    expect(secretExample.stringData.ENCRYPTION_KEYS).toBe('');
    for (const workload of deployments) {
      for (const container of containersOf(workload)) {
        const entry = (container.env ?? []).find((candidate: Doc) => candidate.name === 'ENCRYPTION_KEYS');
        expect({ file: workload.file, ref: entry?.valueFrom?.secretKeyRef }).toEqual({
          file: workload.file,
          ref: { name: secretExample.metadata.name, key: 'ENCRYPTION_KEYS', optional: true },
        });
      }
    }
  });

  it('does not hand the admin token to containers that do not serve the API', () => {
    for (const workload of [...deploymentFor('worker'), ...jobs]) {
      for (const container of containersOf(workload)) expect(Object.keys(effectiveEnv(container))).not.toContain('ADMIN_TOKEN');
    }
  });

  it('probes served paths on a container port: readiness on /health/ready, liveness on /health/live', () => {
    for (const workload of deployments) {
      for (const container of containersOf(workload)) {
        expect(container.readinessProbe?.httpGet?.path).toBe(READY_PATH);
        expect(container.livenessProbe?.httpGet?.path).toBe(LIVE_PATH);
        for (const probe of ['startupProbe', 'readinessProbe', 'livenessProbe']) {
          const httpGet = container[probe]?.httpGet;
          if (!httpGet) continue;
          expect(HEALTH_ROUTES).toContain(httpGet.path);
          expect({ file: workload.file, probe, port: resolvePort(container, httpGet.port) }).toEqual({
            file: workload.file,
            probe,
            port: configFor(effectiveEnv(container)).port,
          });
        }
      }
    }
  });

  it('annotates pods for scraping /metrics on the container port', () => {
    for (const workload of deployments) {
      const annotations: Record<string, string> = workload.doc.spec.template.metadata?.annotations ?? {};
      expect(annotations['prometheus.io/scrape']).toBe('true');
      expect(METRICS_ROUTES).toContain(annotations['prometheus.io/path'] ?? '/metrics');
      const port = Number(annotations['prometheus.io/port']);
      expect(containersOf(workload).some((container) => resolvePort(container, port) === port)).toBe(true);
    }
  });

  it('runs every pod non-root with a read-only root filesystem and a writable /tmp', () => {
    for (const workload of workloads) {
      const volumes = new Map<string, Doc>((workload.pod.volumes ?? []).map((volume: Doc) => [volume.name, volume]));
      for (const container of everyContainerOf(workload)) {
        const security = { ...workload.pod.securityContext, ...container.securityContext };
        expect({ file: workload.file, runAsNonRoot: security.runAsNonRoot }).toEqual({ file: workload.file, runAsNonRoot: true });
        if (security.runAsUser !== undefined) expect(security.runAsUser).not.toBe(0);
        expect(container.securityContext?.readOnlyRootFilesystem).toBe(true);
        expect(container.securityContext?.allowPrivilegeEscalation).toBe(false);
        expect(container.securityContext?.capabilities?.drop).toContain('ALL');
        for (const mount of container.volumeMounts ?? []) expect(volumes.has(mount.name)).toBe(true);
        const tmp = (container.volumeMounts ?? []).find((mount: Doc) => mount.mountPath === '/tmp');
        expect(tmp).toBeDefined();
        expect(volumes.get(tmp.name)?.emptyDir).toBeDefined();
      }
    }
  });

  it('sets CPU and memory requests and limits, requests within limits', () => {
    for (const workload of workloads) {
      for (const container of everyContainerOf(workload)) {
        for (const resource of ['cpu', 'memory']) {
          const request = container.resources?.requests?.[resource];
          const limit = container.resources?.limits?.[resource];
          expect({ file: workload.file, resource, request, limit }).toEqual({
            file: workload.file,
            resource,
            request: expect.anything(),
            limit: expect.anything(),
          });
          expect(quantity(request)).toBeLessThanOrEqual(quantity(limit));
        }
      }
    }
  });

  it('gives workers a termination grace period longer than SHUTDOWN_GRACE_MS, with a margin', () => {
    for (const workload of deploymentFor('worker')) {
      for (const container of containersOf(workload)) {
        const graceMs = configFor(effectiveEnv(container)).shutdownGraceMs;
        expect(workload.pod.terminationGracePeriodSeconds ?? 30).toBeGreaterThanOrEqual(Math.ceil(graceMs / 1000) + SHUTDOWN_MARGIN_S);
      }
    }
  });

  it('routes the Service to the api pods only, on the container port', () => {
    const services = ofKind('Service');
    expect(services.length).toBeGreaterThan(0);
    const [api] = deploymentFor('api');
    for (const { doc } of services) {
      expect(matchesSelector(doc.spec.selector ?? {}, api.labels)).toBe(true);
      for (const other of workloads.filter((workload) => workload !== api)) expect(matchesSelector(doc.spec.selector, other.labels)).toBe(false);
      for (const port of doc.spec.ports) {
        const target = port.targetPort ?? port.port;
        expect(containersOf(api).some((container) => resolvePort(container, target) !== undefined)).toBe(true);
      }
    }
  });

  it('autoscales an existing Deployment on CPU, whose containers request CPU', () => {
    const autoscalers = ofKind('HorizontalPodAutoscaler');
    expect(autoscalers.length).toBeGreaterThan(0);
    for (const { doc } of autoscalers) {
      expect(doc.apiVersion).toBe('autoscaling/v2');
      const { kind, name } = doc.spec.scaleTargetRef;
      const target = deployments.find((workload) => workload.doc.kind === kind && workload.doc.metadata.name === name);
      expect(target).toBeDefined();
      expect(doc.spec.scaleTargetRef.apiVersion).toBe(target!.doc.apiVersion);
      expect(doc.spec.minReplicas).toBeGreaterThanOrEqual(1);
      expect(doc.spec.minReplicas).toBeLessThanOrEqual(doc.spec.maxReplicas);
      expect(doc.spec.metrics.some((metric: Doc) => metric.resource?.name === 'cpu')).toBe(true);
      for (const container of containersOf(target!)) expect(container.resources?.requests?.cpu).toBeDefined();
    }
  });

  it('protects exactly one existing workload with each PodDisruptionBudget, without blocking drains', () => {
    const budgets = ofKind('PodDisruptionBudget');
    expect(budgets.length).toBeGreaterThan(0);
    for (const { doc } of budgets) {
      expect(doc.apiVersion).toBe('policy/v1');
      const covered = deployments.filter((workload) => matchesSelector(doc.spec.selector?.matchLabels ?? {}, workload.labels));
      expect(covered).toHaveLength(1);
      const replicas: number = covered[0].doc.spec.replicas ?? 1;
      if (doc.spec.minAvailable !== undefined) expect(Number(doc.spec.minAvailable)).toBeLessThan(replicas);
      if (doc.spec.maxUnavailable !== undefined) expect(Number(doc.spec.maxUnavailable)).toBeGreaterThanOrEqual(1);
    }
    const [worker] = deploymentFor('worker');
    expect(budgets.some(({ doc }) => matchesSelector(doc.spec.selector.matchLabels, worker.labels))).toBe(true);
  });

  it('migrates in the Job with the app image and database, and never in the Deployments (their init containers only wait)', () => {
    const [job] = jobs;
    const [container] = containersOf(job);
    expect(containersOf(job)).toHaveLength(1);
    expect([...(container.command ?? []), ...(container.args ?? [])]).toEqual(['node', 'dist/src/database/migrate.js']);
    expect(exists(sourceOf('dist/src/database/migrate.js'))).toBe(true);
    expect(['Never', 'OnFailure']).toContain(job.pod.restartPolicy);

    const databaseSource = (c: Doc) => JSON.stringify((c.env ?? []).find((entry: Doc) => entry.name === 'DATABASE_URL')?.valueFrom ?? null);
    for (const deployment of deployments) {
      for (const app of everyContainerOf(deployment)) {
        expect(app.image).toBe(container.image);
        expect(databaseSource(app)).toBe(databaseSource(container));
        expect([...(app.command ?? []), ...(app.args ?? [])].join(' ')).not.toMatch(/migrate/);
      }
      for (const wait of initContainersOf(deployment)) expect(exists(sourceOf(wait.command[1]))).toBe(true);
    }
  });
});
