import type { KafkaMessage } from 'kafkajs';
import { DeadLetter, ingestBatch, IngestSteps, MESSAGES_PER_PASS, UNEXPECTED_FAILURE_ATTEMPTS, Verdict } from './ingest-batch';

function messages(count: number, from = 0): KafkaMessage[] {
  return Array.from({ length: count }, (_, index) => ({
    key: null,
    value: Buffer.from(`m${from + index}`),
    offset: String(from + index),
    timestamp: '0',
    attributes: 0,
    headers: {},
  }));
}

const text = (message: KafkaMessage) => message.value!.toString();

/** A partition's batch whose commits are recorded: each commit is the offset resolved when it was made. */
function batchOf(list: KafkaMessage[], running = () => true) {
  let resolved: string | undefined;
  const commits: string[] = [];
  return {
    commits,
    control: {
      messages: list,
      resolveOffset: (offset: string) => (resolved = offset),
      commit: async () => void commits.push(resolved!),
      heartbeat: async () => undefined,
      isRunning: running,
      isStale: () => false,
    },
  };
}

/** Steps whose verdicts come from `verdictOf` (by message text and how often it was judged); what is judged and dead-lettered is recorded. */
function stepsOf(verdictOf: (text: string, judged: number) => Verdict, deadLetter: (letters: DeadLetter[]) => Promise<void> = async () => undefined) {
  const judged: string[][] = [];
  const counts = new Map<string, number>();
  const letters: Array<{ text: string; code: string }> = [];
  const waits: string[][] = [];
  const steps: IngestSteps = {
    judge: async (list) => {
      judged.push(list.map(text));
      return list.map((message) => {
        const count = (counts.get(text(message)) ?? 0) + 1;
        counts.set(text(message), count);
        return verdictOf(text(message), count);
      });
    },
    deadLetter: async (sent) => {
      await deadLetter(sent);
      letters.push(...sent.map(({ message, refusal }) => ({ text: text(message), code: refusal.code })));
    },
    backOff: async (reasons) => void waits.push(reasons),
  };
  return { steps, judged, letters, waits };
}

const accepted: Verdict = { kind: 'accepted', repeated: false };
const refused: Verdict = { kind: 'refused', refusal: { code: 'validation_failed', message: 'bad', field: 'job.type' } };

describe('ingestBatch', () => {
  it('commits once a pass is settled, up to the last message, in passes as large as one INSERT', async () => {
    const list = messages(MESSAGES_PER_PASS + 3);
    const { control, commits } = batchOf(list);
    const { steps, judged, waits } = stepsOf(() => accepted);
    await ingestBatch(control, steps);
    expect(judged.map((pass) => pass.length)).toEqual([MESSAGES_PER_PASS, 3]);
    expect(commits).toEqual([String(MESSAGES_PER_PASS - 1), String(MESSAGES_PER_PASS + 2)]);
    expect(waits).toEqual([]);
  });

  it('dead-letters a refused message and goes on with the ones after it', async () => {
    const { control, commits } = batchOf(messages(3));
    const { steps, letters, waits } = stepsOf((message) => (message === 'm1' ? refused : accepted));
    await ingestBatch(control, steps);
    expect(letters).toEqual([{ text: 'm1', code: 'validation_failed' }]);
    expect(commits).toEqual(['2']);
    expect(waits).toEqual([]);
  });

  it('holds the offset before a message PostgreSQL could not take, tries it again, and judges nothing settled twice', async () => {
    const { control, commits } = batchOf(messages(4));
    const { steps, judged, letters, waits } = stepsOf((message, count) => {
      if (message === 'm1' && count < 3) return { kind: 'unavailable', reason: 'PostgreSQL is down' };
      return message === 'm2' ? refused : accepted;
    });
    await ingestBatch(control, steps);
    expect(judged).toEqual([['m0', 'm1', 'm2', 'm3'], ['m1'], ['m1']]);
    expect(commits).toEqual(['0', '3']);
    expect(letters).toEqual([{ text: 'm2', code: 'validation_failed' }]);
    expect(waits).toEqual([['PostgreSQL is down'], ['PostgreSQL is down']]);
  });

  it('commits nothing and dead-letters nothing while nothing can be settled, and stops when the consumer stops', async () => {
    let running = true;
    const { control, commits } = batchOf(messages(2), () => running);
    const { steps, letters, waits } = stepsOf(() => ({ kind: 'unavailable', reason: 'PostgreSQL is down' }));
    steps.backOff = async (reasons) => {
      waits.push(reasons);
      if (waits.length === 10) running = false;
    };
    await ingestBatch(control, steps);
    expect(waits).toHaveLength(10);
    expect(commits).toEqual([]);
    expect(letters).toEqual([]);
  });

  it('dead-letters a message that keeps failing unexpectedly as internal_error, so it cannot stall the partition', async () => {
    const { control, commits } = batchOf(messages(2));
    const { steps, letters, waits } = stepsOf((message) => (message === 'm0' ? { kind: 'failed', reason: 'a bug' } : accepted));
    await ingestBatch(control, steps);
    expect(waits).toHaveLength(UNEXPECTED_FAILURE_ATTEMPTS - 1);
    expect(letters).toEqual([{ text: 'm0', code: 'internal_error' }]);
    expect(commits).toEqual(['1']);
  });

  it('does not commit past a refused message the dead-letter topic did not take, and sends it again', async () => {
    const { control, commits } = batchOf(messages(2));
    let sends = 0;
    const { steps, letters, waits } = stepsOf(
      (message) => (message === 'm0' ? refused : accepted),
      async () => {
        if (++sends === 1) throw new Error('broker gone');
      },
    );
    await ingestBatch(control, steps);
    expect(waits).toEqual([['the dead-letter topic did not take 1 messages: broker gone']]);
    expect(letters).toEqual([{ text: 'm0', code: 'validation_failed' }]);
    expect(commits).toEqual(['1']);
  });
});
