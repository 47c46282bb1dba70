import type { KafkaMessage } from 'kafkajs';
import { Refusal } from './job-request-message';

/** What became of one message in one pass. */
export type Verdict =
  /** Its job exists: inserted now, or found under its idempotency key (`repeated`: a redelivery, or the same request again). */
  | { kind: 'accepted'; repeated: boolean }
  /** It can never make a job: it goes to the dead-letter topic. */
  | { kind: 'refused'; refusal: Refusal }
  /** A backing service (PostgreSQL) could not serve: it is tried again, for as long as that lasts. */
  | { kind: 'unavailable'; reason: string }
  /** Something nobody foresaw went wrong: tried again a few times, then dead-lettered, so one message cannot stall its partition. */
  | { kind: 'failed'; reason: string };

export interface DeadLetter {
  message: KafkaMessage;
  refusal: Refusal;
}

/** The work a batch is made of; the consumer supplies it. */
export interface IngestSteps {
  /** Enqueues the job requests among the messages, and says of each what became of it (in order). Never throws. */
  judge(messages: KafkaMessage[]): Promise<Verdict[]>;
  /** Resolves once Kafka holds every one of the dead letters; throws otherwise. */
  deadLetter(letters: DeadLetter[]): Promise<void>;
  /** Waits before messages that could not be settled are tried again (the `attempt`th time); resolves early when the consumer stops. */
  backOff(reasons: string[], attempt: number): Promise<void>;
}

/** What the consumer's eachBatch offers of a partition's batch. */
export interface BatchControl {
  messages: KafkaMessage[];
  /** Marks the message at this offset, and every one before it, done. */
  resolveOffset(offset: string): void;
  /** Commits the offsets resolved so far. */
  commit(): Promise<void>;
  heartbeat(): Promise<void>;
  isRunning(): boolean;
  /** The partition was taken away (a rebalance) or sought: what is left of the batch is not this consumer's any more. */
  isStale(): boolean;
}

/** Messages judged at once: as many as the jobs service puts in one INSERT. */
export const MESSAGES_PER_PASS = 500;
/** How often an unforeseen failure of one message is tried before it is dead-lettered as internal_error. */
export const UNEXPECTED_FAILURE_ATTEMPTS = 5;

/**
 * Settles a partition's batch in order. A message is settled when its job is in PostgreSQL or its
 * dead letter is in Kafka, and the offset is committed only over settled messages: a message
 * PostgreSQL could not take holds the partition (it and the messages after it are
 * redelivered to whichever consumer comes next) and is tried again here, with backoff, until it is
 * settled or the consumer stops or loses the partition. Messages already settled behind it are not
 * judged again, so a wait makes no second dead letter.
 */
export async function ingestBatch(batch: BatchControl, steps: IngestSteps): Promise<void> {
  const settled = new Set<KafkaMessage>();
  const unexpectedFailures = new Map<KafkaMessage, number>();
  let next = 0;
  let attempt = 0;
  while (next < batch.messages.length) {
    if (!batch.isRunning() || batch.isStale()) return;
    const pending = batch.messages.slice(next).filter((message) => !settled.has(message)).slice(0, MESSAGES_PER_PASS);
    const verdicts = await steps.judge(pending);

    const letters: DeadLetter[] = [];
    const reasons: string[] = [];
    pending.forEach((message, index) => {
      const verdict = verdicts[index];
      if (verdict.kind === 'accepted') settled.add(message);
      else if (verdict.kind === 'refused') letters.push({ message, refusal: verdict.refusal });
      else if (verdict.kind === 'unavailable') reasons.push(verdict.reason);
      else {
        const failures = (unexpectedFailures.get(message) ?? 0) + 1;
        unexpectedFailures.set(message, failures);
        if (failures < UNEXPECTED_FAILURE_ATTEMPTS) reasons.push(verdict.reason);
        else letters.push({ message, refusal: { code: 'internal_error', message: `Failed ${failures} times: ${verdict.reason}` } });
      }
    });
    if (letters.length > 0) {
      try {
        await steps.deadLetter(letters);
        for (const letter of letters) settled.add(letter.message);
      } catch (error) {
        reasons.push(`the dead-letter topic did not take ${letters.length} messages: ${(error as Error).message}`);
      }
    }

    const before = next;
    while (next < batch.messages.length && settled.has(batch.messages[next])) next++;
    if (next > before) {
      batch.resolveOffset(batch.messages[next - 1].offset);
      await batch.commit();
    }
    if (reasons.length > 0) await steps.backOff(reasons, ++attempt);
    else attempt = 0;
    await batch.heartbeat();
  }
}
