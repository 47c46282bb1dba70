import { execFile } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { delimiter, join } from 'node:path';

/** A program the tests run that the README's prerequisites (PostgreSQL, Redis, Node.js) do not bring. */
export interface Prerequisite {
  binary: string;
  debianPackage: string;
  brewFormula: string;
  why: string;
}

export const KCAT: Prerequisite = {
  binary: 'kcat',
  debianPackage: 'kcat',
  brewFormula: 'kcat',
  why: 'the Kafka relay tests run against the mock Kafka cluster of its librdkafka',
};

export const TEST_PREREQUISITES: Prerequisite[] = [KCAT];

/** What providing prerequisites touches, injected so that a test can play any machine. */
export interface Machine {
  path: string;
  platform: NodeJS.Platform;
  isRoot: boolean;
  /** Runs a command quietly; rejects with what it printed last when it fails. */
  run(command: string, args: string[]): Promise<void>;
  say(line: string): void;
}

/** A message of one line, printed without a stack: what is missing and the command that installs it. */
export class MissingPrerequisite extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'MissingPrerequisite';
    this.stack = message;
  }
}

export function findOnPath(binary: string, path: string): string | undefined {
  for (const directory of path.split(delimiter).filter(Boolean)) {
    const candidate = join(directory, binary);
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      continue;
    }
  }
  return undefined;
}

/**
 * Makes sure every prerequisite's binary is on the machine's PATH: as root on a Debian-like system
 * it installs the missing ones with apt-get, printing one line; anywhere else, or when that fails,
 * it throws one line naming what is missing and the command that installs it.
 */
export async function providePrerequisites(prerequisites: Prerequisite[], machine: Machine): Promise<void> {
  const missing = () => prerequisites.filter((prerequisite) => findOnPath(prerequisite.binary, machine.path) === undefined);
  const absent = missing();
  if (absent.length === 0) return;
  if (!machine.isRoot || machine.platform !== 'linux' || findOnPath('apt-get', machine.path) === undefined) {
    throw new MissingPrerequisite(missingMessage(absent, machine));
  }
  const packages = absent.map((prerequisite) => prerequisite.debianPackage);
  machine.say(`Installing ${describe(absent)} for the tests: apt-get install -y -qq ${packages.join(' ')}`);
  try {
    await machine.run('apt-get', ['update', '-qq']);
    await machine.run('apt-get', ['install', '-y', '-qq', ...packages]);
  } catch (error) {
    throw new MissingPrerequisite(`${missingMessage(absent, machine)} (apt-get failed: ${(error as Error).message})`);
  }
  const stillAbsent = missing();
  if (stillAbsent.length > 0) throw new MissingPrerequisite(`${missingMessage(stillAbsent, machine)} (apt-get installed it, but it is not on PATH)`);
}

function describe(prerequisites: Prerequisite[]): string {
  return prerequisites.map((prerequisite) => `${prerequisite.binary} (${prerequisite.why})`).join(', ');
}

export function missingMessage(absent: Prerequisite[], machine: Pick<Machine, 'platform' | 'isRoot'>): string {
  const apt = `${machine.isRoot ? '' : 'sudo '}apt-get install -y ${absent.map((prerequisite) => prerequisite.debianPackage).join(' ')}`;
  const brew = `brew install ${absent.map((prerequisite) => prerequisite.brewFormula).join(' ')}`;
  const install = machine.platform === 'darwin' ? `it on macOS with: ${brew}` : machine.platform === 'linux' ? `it on Debian/Ubuntu with: ${apt}` : `it on Debian/Ubuntu with: ${apt}, or on macOS with: ${brew}`;
  return `The tests need ${describe(absent)}, not installed here; install ${install}`;
}

export function thisMachine(): Machine {
  return {
    path: process.env.PATH ?? '',
    platform: process.platform,
    isRoot: process.getuid?.() === 0,
    run: (command, args) =>
      new Promise((resolve, reject) => {
        execFile(command, args, { env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' }, maxBuffer: 64 * 1024 * 1024 }, (error, _stdout, stderr) => {
          if (!error) return resolve();
          const lastLine = stderr.trim().split('\n').pop() || error.message.split('\n')[0];
          reject(new Error(`${command} ${args.join(' ')}: ${lastLine}`));
        });
      }),
    say: (line) => process.stdout.write(`${line}\n`),
  };
}
