import { blockExpiration, isoDuration, stepCompletion } from './workflow-step';

describe('stepCompletion', () => {
  it('completes a succeeded job with SUCCESS and its outputs, as strings', () => {
    expect(stepCompletion({ id: 'j1', status: 'succeeded', output: { ok: true, attempts: 2, label: 'x' }, error: null })).toEqual({
      ok: 'true',
      attempts: '2',
      label: 'x',
      job_id: 'j1',
      job_status: 'succeeded',
      hs_execution_state: 'SUCCESS',
    });
  });

  it('completes a failed or cancelled job with FAIL_CONTINUE and the error code (for execution rules) and message', () => {
    expect(
      stepCompletion({ id: 'j2', status: 'failed', output: null, error: { code: 'noop_fatal', message: 'asked to fail', retryable: false } }),
    ).toEqual({ job_id: 'j2', job_status: 'failed', hs_execution_state: 'FAIL_CONTINUE', errorCode: 'noop_fatal', offload_error: 'noop_fatal: asked to fail' });
    expect(stepCompletion({ id: 'j3', status: 'cancelled', output: null, error: null })).toEqual({
      job_id: 'j3',
      job_status: 'cancelled',
      hs_execution_state: 'FAIL_CONTINUE',
      errorCode: 'cancelled',
      offload_error: 'cancelled: The job cancelled',
    });
  });

  it('keeps the error output within what HubSpot accepts of a string', () => {
    const outputs = stepCompletion({ id: 'j4', status: 'failed', output: null, error: { code: 'x', message: 'y'.repeat(70_000), retryable: false } });
    expect(String(outputs.offload_error).length).toBe(65_000);
  });
});

describe('blockExpiration', () => {
  it('covers every run timing out and every backoff at its cap, plus a day, in whole hours', () => {
    // 11 x 30 s + 10 x 2 s = 350 s, plus a day: 24 h and a bit, so 25 h.
    expect(blockExpiration(30_000, { attempts: 11, backoffMs: 100, maxBackoffMs: 2_000 })).toBe('P1DT1H');
    expect(blockExpiration(3_600_000, { attempts: 3, backoffMs: 1_000, maxBackoffMs: 3_600_000 })).toBe('P1DT5H');
  });

  it('asks for a week at most', () => {
    expect(blockExpiration(86_400_000, { attempts: 10, backoffMs: 1_000, maxBackoffMs: 86_400_000 })).toBe('P7D');
  });
});

describe('isoDuration', () => {
  it('writes days and hours', () => {
    expect(isoDuration(3_600_000)).toBe('PT1H');
    expect(isoDuration(86_400_000)).toBe('P1D');
    expect(isoDuration(90_000_000)).toBe('P1DT1H');
    expect(isoDuration(1)).toBe('PT1H');
  });
});
