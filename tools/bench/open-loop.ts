import { RequestSender } from './http';
import { LatencySummary, summarize } from './stats';

export interface OpenLoopSpec {
  client: RequestSender;
  /** Requests per second, issued on a fixed schedule. */
  rate: number;
  seconds: number;
  timeoutMs: number;
  /** The request number i (method POST). */
  request: (i: number) => { path: string; body: string };
  headers: Record<string, string>;
  /** Statuses that count as success. */
  ok: (status: number) => boolean;
  shouldStop: () => boolean;
}

export interface OpenLoopResult {
  offeredRate: number;
  seconds: number;
  scheduled: number;
  sent: number;
  ok: number;
  errors: number;
  /** Error counts by HTTP status, or by transport error ("timeout", "ECONNRESET", ...). */
  errorKinds: Record<string, number>;
  /** Successful answers per second, from the first scheduled send to the later of the last answer and the end of the schedule. */
  achievedRate: number;
  /** From each request's scheduled start to its answer: the latency a caller on that schedule sees. */
  latency: LatencySummary;
  /** From the moment the generator actually issued the request to its answer (includes any wait for a free connection). */
  serviceTime: LatencySummary;
  /** How late the generator itself issued requests; large values mean the generator, not the server, was behind. */
  sendLagP99: number;
  sendLagMax: number;
}

/**
 * An open-loop load generator: request i is due at t0 + i/rate whether or not earlier requests
 * have been answered, and its latency is counted from that due time. A slow server therefore shows
 * up as latency (and errors) instead of as a quietly lower request rate (coordinated omission).
 */
export async function runOpenLoop(spec: OpenLoopSpec): Promise<OpenLoopResult> {
  const total = Math.max(1, Math.round(spec.rate * spec.seconds));
  const interval = 1000 / spec.rate;
  const latencies = new Float64Array(total);
  const services = new Float64Array(total);
  const lags = new Float64Array(total);
  const errorKinds: Record<string, number> = {};
  let okCount = 0;
  let errorCount = 0;
  let sent = 0;
  let outstanding = 0;
  let lastAnswerAt = 0;
  let allAnswered: (() => void) | undefined;

  const t0 = performance.now() + 20;
  const fire = (i: number) => {
    const due = t0 + i * interval;
    const issuedAt = performance.now();
    lags[i] = Math.max(0, issuedAt - due);
    sent++;
    outstanding++;
    const { path, body } = spec.request(i);
    let timer: NodeJS.Timeout | undefined = undefined;
    const abort = spec.client.send('POST', path, body, spec.headers, (status, _body, error) => {
      const now = performance.now();
      clearTimeout(timer);
      outstanding--;
      lastAnswerAt = Math.max(lastAnswerAt, now);
      if (!error && spec.ok(status)) {
        latencies[okCount] = now - due;
        services[okCount] = now - issuedAt;
        okCount++;
      } else {
        errorCount++;
        const kind = error ? ((error as NodeJS.ErrnoException).code ?? (error.message === 'timed out' ? 'timeout' : error.message)) : String(status);
        errorKinds[kind] = (errorKinds[kind] ?? 0) + 1;
      }
      if (outstanding === 0 && allAnswered) allAnswered();
    });
    // The deadline counts from the due time, like the latency.
    timer = setTimeout(abort, Math.max(1, due + spec.timeoutMs - performance.now()));
  };

  let next = 0;
  await new Promise<void>((resolve) => {
    const tick = () => {
      if (spec.shouldStop()) return resolve();
      const now = performance.now();
      const due = Math.min(total, Math.floor((now - t0) / interval) + 1);
      while (next < due) fire(next++);
      if (next >= total) return resolve();
      setTimeout(tick, Math.max(0, t0 + next * interval - performance.now() - 0.5));
    };
    setTimeout(tick, Math.max(0, t0 - performance.now()));
  });
  if (outstanding > 0) await new Promise<void>((resolve) => (allAnswered = resolve));

  const scheduleEnd = t0 + total * interval;
  const window = (Math.max(lastAnswerAt, scheduleEnd) - t0) / 1000;
  const lagSummary = summarize(lags, sent);
  return {
    offeredRate: spec.rate,
    seconds: spec.seconds,
    scheduled: total,
    sent,
    ok: okCount,
    errors: errorCount + (total - sent),
    errorKinds: total > sent ? { ...errorKinds, 'not sent (stopped)': total - sent } : errorKinds,
    achievedRate: okCount / window,
    latency: summarize(latencies, okCount),
    serviceTime: summarize(services, okCount),
    sendLagP99: lagSummary.p99,
    sendLagMax: lagSummary.max,
  };
}
