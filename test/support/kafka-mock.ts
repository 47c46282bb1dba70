import { ChildProcess, spawn } from 'node:child_process';
import { createServer, Server, Socket } from 'node:net';
import { KCAT, missingMessage, thisMachine } from './prerequisites';

export interface KafkaMock {
  /** host:port of each mock broker, as KAFKA_BROKERS takes them. */
  brokers: string[];
  stop(): Promise<void>;
}

/**
 * A Kafka-protocol cluster of `brokers` in-memory brokers: librdkafka's mock cluster, hosted by a
 * kcat producer that waits on stdin forever. It serves Produce, Metadata, Fetch and consumer
 * groups, creates topics on first use, and keeps nothing on disk. With `-d mock` librdkafka logs
 * `Mock cluster <name> bootstrap.servers=<host:port,...>` on stderr once the brokers listen.
 */
export async function startKafkaMock(brokers = 3, timeoutMs = 10_000): Promise<KafkaMock> {
  const kcat = spawn(KCAT.binary, ['-P', '-b', '127.0.0.1:1', '-t', 'offload-mock-keepalive', '-X', `test.mock.num.brokers=${brokers}`, '-d', 'mock'], {
    stdio: ['pipe', 'ignore', 'pipe'],
  });
  const list = await new Promise<string[]>((resolve, reject) => {
    let log = '';
    let settled = false;
    const settle = (outcome: () => void) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      outcome();
    };
    const fail = (error: Error) =>
      settle(() => {
        kcat.kill('SIGKILL');
        reject(error);
      });
    const timer = setTimeout(() => fail(new Error(`kcat printed no mock cluster address within ${timeoutMs} ms; it said: ${log.slice(-2000)}`)), timeoutMs);
    kcat.once('error', (error: NodeJS.ErrnoException) => fail(error.code === 'ENOENT' ? new Error(missingMessage([KCAT], thisMachine())) : error));
    kcat.once('exit', (code, signal) => fail(new Error(`kcat exited (${code ?? signal}) before the mock cluster was up: ${log.slice(-2000)}`)));
    kcat.stderr!.on('data', (chunk: Buffer) => {
      if (settled) return;
      log += chunk.toString();
      const match = /Mock cluster \S+ bootstrap\.servers=(\S+)/.exec(log);
      if (match) settle(() => resolve(match[1].split(',')));
    });
  });
  // The debug log goes on for as long as kcat runs; left unread, the pipe would fill and stall it.
  kcat.stderr!.resume();
  return { brokers: list, stop: () => stopProcess(kcat) };
}

async function stopProcess(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  // kcat -P ignores SIGTERM while it blocks reading stdin; the end of its input stops it at once.
  child.stdin?.end();
  const force = setTimeout(() => child.kill('SIGKILL'), 3_000);
  await exited;
  clearTimeout(force);
}

/** A port nothing listens on (yet): connections to it are refused. */
export async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** Listens on `port` and forwards every connection to `target` (host:port): a broker address that can come and go. */
export async function forwardPort(port: number, target: string): Promise<{ close(): Promise<void> }> {
  const [host, targetPort] = [target.slice(0, target.lastIndexOf(':')), Number(target.slice(target.lastIndexOf(':') + 1))];
  const sockets = new Set<Socket>();
  const server: Server = createServer((inbound) => {
    const outbound = new Socket();
    for (const socket of [inbound, outbound]) {
      sockets.add(socket);
      socket.on('error', () => undefined);
      socket.on('close', () => {
        sockets.delete(socket);
        inbound.destroy();
        outbound.destroy();
      });
    }
    outbound.connect(targetPort, host, () => {
      inbound.pipe(outbound);
      outbound.pipe(inbound);
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', resolve);
  });
  return {
    close: () =>
      new Promise<void>((resolve) => {
        sockets.forEach((socket) => socket.destroy());
        server.close(() => resolve());
      }),
  };
}
