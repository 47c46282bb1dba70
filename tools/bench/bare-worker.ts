/**
 * The baseline's worker process: a plain BullMQ Worker that completes every job at once. It runs
 * in a process of its own, as Offload's worker does, and reports over IPC when it has completed
 * the number of jobs the benchmark said to expect.
 */
import { Worker } from 'bullmq';

export interface BareWorkerConfig {
  queueName: string;
  prefix: string;
  connection: { host: string; port: number; db: number; maxRetriesPerRequest: null };
  concurrency: number;
}

export type BareWorkerRequest = { kind: 'expect'; count: number };
export type BareWorkerReply = { kind: 'ready' } | { kind: 'done'; at: number; completed: number } | { kind: 'failed'; message: string };

async function main(): Promise<void> {
  const config = JSON.parse(process.env.BARE_WORKER_CONFIG ?? '') as BareWorkerConfig;
  const reply = (message: BareWorkerReply) => process.send?.(message);
  let expected = Infinity;
  let completed = 0;

  const worker = new Worker(config.queueName, async () => undefined, {
    connection: config.connection,
    prefix: config.prefix,
    concurrency: config.concurrency,
    autorun: false,
  });
  worker.on('completed', () => {
    completed++;
    if (completed === expected) reply({ kind: 'done', at: Date.now(), completed });
  });
  worker.on('failed', (_job, error) => reply({ kind: 'failed', message: error.message }));
  worker.on('error', (error) => reply({ kind: 'failed', message: error.message }));

  process.on('message', (message: BareWorkerRequest) => {
    if (message?.kind === 'expect') {
      completed = 0;
      expected = message.count;
    }
  });
  process.on('disconnect', () => {
    setTimeout(() => process.exit(1), 3_000).unref();
    void worker.close(true).finally(() => process.exit(0));
  });

  void worker.run();
  await worker.waitUntilReady();
  reply({ kind: 'ready' });
}

main().catch((error: Error) => {
  process.send?.({ kind: 'failed', message: error.message });
  process.exit(1);
});
