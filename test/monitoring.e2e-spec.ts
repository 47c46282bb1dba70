import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { PROMTOOL } from './support/prerequisites';

const ALERTS = join(__dirname, '..', 'monitoring', 'alerts.yml');

describe('monitoring/alerts.yml', () => {
  it("passes Prometheus' own checker", async () => {
    const { stdout } = await promisify(execFile)(PROMTOOL.binary, ['check', 'rules', ALERTS]);
    expect(stdout).toMatch(/SUCCESS: \d+ rules found/);
  });
});
