/**
 * The Grafana dashboard and the Prometheus alert rules in monitoring/ against the code: every
 * metric they query is one Offload exports, every alert says what it means and where the runbook
 * tells what to do. (promtool checks the rules' syntax: test/monitoring.e2e-spec.ts.)
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parse } from 'yaml';

const ROOT = resolve(__dirname, '..', '..');
const text = (file: string) => readFileSync(join(ROOT, file), 'utf8');

function sourceFiles(dir: string): string[] {
  return readdirSync(join(ROOT, dir), { recursive: true, withFileTypes: true })
    .filter((entry) => entry.isFile() && entry.name.endsWith('.ts') && !entry.name.endsWith('.spec.ts'))
    .map((entry) => join(entry.parentPath, entry.name));
}

/** Metric names the service registers (`name: 'offload_...'`), with the series a histogram adds. */
const EXPORTED = new Set(
  sourceFiles('src').flatMap((file) =>
    [...readFileSync(file, 'utf8').matchAll(/name: '(offload_[a-z0-9_]+)'/g)].flatMap(([, name]) => [name, `${name}_bucket`, `${name}_count`, `${name}_sum`]),
  ),
);

/** The offload_* metric names an expression reads. */
function metricsIn(expr: string): string[] {
  return [...expr.matchAll(/\b(offload_[a-z0-9_]+)/g)].map((match) => match[1]);
}

/** The anchors of docs/runbook.md's sections, as GitHub makes them. */
const RUNBOOK_ANCHORS = new Set(
  [...text('docs/runbook.md').matchAll(/^## (.+)$/gm)].map(([, heading]) =>
    heading.toLowerCase().replace(/[^a-z0-9 -]/g, '').trim().replace(/ /g, '-'),
  ),
);

describe('monitoring/alerts.yml', () => {
  const rules = (parse(text('monitoring/alerts.yml')) as { groups: Array<{ name: string; rules: Array<Record<string, any>> }> }).groups.flatMap(
    (group) => group.rules,
  );

  it('holds alerts with unique names, a severity, a summary and a runbook section that exists', () => {
    const names = rules.map((rule) => rule.alert);
    expect(new Set(names).size).toBe(names.length);
    for (const rule of rules) {
      expect({ alert: rule.alert, severity: ['info', 'warning', 'critical'].includes(rule.labels?.severity) }).toEqual({ alert: rule.alert, severity: true });
      expect(rule.annotations?.summary).toEqual(expect.any(String));
      const [file, anchor] = String(rule.annotations?.runbook).split('#');
      expect({ alert: rule.alert, file, known: RUNBOOK_ANCHORS.has(anchor) }).toEqual({ alert: rule.alert, file: 'docs/runbook.md', known: true });
    }
  });

  it('queries only metrics Offload exports', () => {
    for (const rule of rules) for (const metric of metricsIn(rule.expr)) expect({ alert: rule.alert, metric, exported: EXPORTED.has(metric) }).toMatchObject({ exported: true });
  });

  it('covers every situation of the runbook', () => {
    const covered = new Set(rules.map((rule) => String(rule.annotations.runbook).split('#')[1]));
    for (const section of ['a-queue-backing-up', 'hubspot-429s', 'a-provider-down', 'redis-lost', 'a-postgresql-failover', 'a-bad-handler-release', 'key-rotation']) {
      expect({ section, covered: covered.has(section) }).toEqual({ section, covered: true });
    }
  });
});

describe('monitoring/grafana-dashboard.json', () => {
  const dashboard = JSON.parse(text('monitoring/grafana-dashboard.json'));

  it('is a dashboard of panels with unique ids on a Prometheus data source variable', () => {
    expect(dashboard.uid).toEqual(expect.any(String));
    expect(dashboard.templating.list).toContainEqual(expect.objectContaining({ name: 'datasource', type: 'datasource', query: 'prometheus' }));
    const ids = dashboard.panels.map((panel: { id: number }) => panel.id);
    expect(new Set(ids).size).toBe(ids.length);
    for (const panel of dashboard.panels) {
      expect(panel.datasource.uid).toBe('${datasource}');
      expect(panel.targets.length).toBeGreaterThan(0);
    }
  });

  it('queries only metrics Offload exports, and shows every metric an alert watches', () => {
    const queried = new Set<string>();
    for (const panel of dashboard.panels) {
      for (const target of panel.targets) {
        for (const metric of metricsIn(target.expr)) {
          queried.add(metric);
          expect({ panel: panel.title, metric, exported: EXPORTED.has(metric) }).toMatchObject({ exported: true });
        }
      }
    }
    const alerted = (parse(text('monitoring/alerts.yml')) as { groups: Array<{ rules: Array<{ expr: string }> }> }).groups.flatMap((group) =>
      group.rules.flatMap((rule) => metricsIn(rule.expr)),
    );
    for (const metric of alerted) expect({ metric, shown: queried.has(metric) }).toEqual({ metric, shown: true });
  });
});
