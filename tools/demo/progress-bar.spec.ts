import { progressLine } from './progress-bar';
import type { WorkflowProgress } from './workflow';

function progress(done: Array<[string, number]>, startedAt: number): WorkflowProgress {
  return { done: new Map(done), executions: { enqueueAndWait: 0, polls: 0, reruns: 0 }, startedAt };
}

describe('progressLine', () => {
  it('counts contacts through the last step, each step, jobs per second and the time so far', () => {
    const line = progressLine(progress([['enrichment', 60], ['icp-score', 55], ['lead-assignment', 50]], 0), 200, 15_000);
    expect(line).toBe(
      '[######..................] 50/200 contacts | enrichment 60 · icp-score 55 · lead-assignment 50 | 11.0 jobs/s | 15s',
    );
  });

  it('fills the bar when every contact is through, and shows minutes past the first', () => {
    const line = progressLine(progress([['enrichment', 30], ['icp-score', 30]], 1_000), 30, 126_000);
    expect(line).toMatch(/^\[#{24}\] 30\/30 contacts .* \| 0\.5 jobs\/s \| 2m05s$/);
  });
});
