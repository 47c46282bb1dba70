import { execFile } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { delimiter, join } from 'node:path';

/** A program the tests run that the README's prerequisites (Node.js, PostgreSQL, Redis) do not bring. */
export interface Prerequisite {
  binary: string;
  /** Arguments with which the binary exits 0 only when it has what the tests need. */
  probe?: string[];
  debianPackages: string[];
  /** The macOS command that installs it. */
  brewInstall: string;
  why: string;
}

export const KCAT: Prerequisite = {
  binary: 'kcat',
  probe: ['-L', '-b', '127.0.0.1:1', '-X', 'test.mock.num.brokers=1', '-m', '5'],
  debianPackages: ['kcat'],
  brewInstall: 'brew install kcat',
  why: 'the Kafka relay tests run against the mock Kafka cluster of its librdkafka',
};

export const PYTHON: Prerequisite = {
  binary: 'python3',
  probe: ['-c', 'import sys, requests; sys.exit(sys.version_info < (3, 10))'],
  debianPackages: ['python3', 'python3-requests'],
  brewInstall: 'brew install python && python3 -m pip install --break-system-packages requests',
  why: '3.10 or newer, with requests: the Python workflow stubs and the Python action checks run on it',
};

export const PROMTOOL: Prerequisite = {
  binary: 'promtool',
  probe: ['--version'],
  debianPackages: ['prometheus'],
  brewInstall: 'brew install prometheus',
  why: "Prometheus' checker of the alert rules in monitoring/",
};

/** Debian's own build: the browser tests never download one. */
export const CHROMIUM: Prerequisite = {
  binary: 'chromium',
  probe: ['--headless', '--no-sandbox', '--disable-gpu', '--version'],
  debianPackages: ['chromium'],
  brewInstall: 'brew install --cask chromium',
  why: 'the browser tests of /ops and /ops/queues drive it headless',
};

/** Its built-in kustomize renders the overlays; Debian 12's kubectl (1.20) predates the kustomize they need. */
export const KUBECTL: Prerequisite = {
  binary: 'kubectl',
  probe: ['kustomize', '--help'],
  debianPackages: ['kubernetes-client'],
  brewInstall: 'brew install kubectl',
  why: '1.21 or newer: its kustomize renders the manifests in k8s/ for their schema checks',
};

export const TEST_PREREQUISITES: Prerequisite[] = [KCAT, PYTHON, PROMTOOL, CHROMIUM, KUBECTL];

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

async function isPresent(prerequisite: Prerequisite, machine: Machine): Promise<boolean> {
  const found = findOnPath(prerequisite.binary, machine.path);
  if (found === undefined || prerequisite.probe === undefined) return found !== undefined;
  return machine.run(found, prerequisite.probe).then(
    () => true,
    () => false,
  );
}

async function absentOf(prerequisites: Prerequisite[], machine: Machine): Promise<Prerequisite[]> {
  const present = await Promise.all(prerequisites.map((prerequisite) => isPresent(prerequisite, machine)));
  return prerequisites.filter((_, index) => !present[index]);
}

/**
 * Makes sure every prerequisite is on the machine's PATH and does what the tests need: as root on
 * a Debian-like system it installs the missing ones with apt-get, printing one line; anywhere else,
 * or when that fails, it throws one line naming what is missing and the command that installs it.
 */
export async function providePrerequisites(prerequisites: Prerequisite[], machine: Machine): Promise<void> {
  const absent = await absentOf(prerequisites, machine);
  if (absent.length === 0) return;
  if (!machine.isRoot || machine.platform !== 'linux' || findOnPath('apt-get', machine.path) === undefined) {
    throw new MissingPrerequisite(missingMessage(absent, machine));
  }
  const packages = absent.flatMap((prerequisite) => prerequisite.debianPackages);
  machine.say(`Installing ${describe(absent)} for the tests: apt-get install -y -qq ${packages.join(' ')}`);
  try {
    await machine.run('apt-get', ['update', '-qq']);
    await machine.run('apt-get', ['install', '-y', '-qq', ...packages]);
  } catch (error) {
    throw new MissingPrerequisite(`${missingMessage(absent, machine)} (apt-get failed: ${(error as Error).message})`);
  }
  const stillAbsent = await absentOf(absent, machine);
  if (stillAbsent.length > 0) throw new MissingPrerequisite(`${missingMessage(stillAbsent, machine)} (still missing after apt-get installed it; is another one first on PATH?)`);
}

function describe(prerequisites: Prerequisite[]): string {
  return prerequisites.map((prerequisite) => `${prerequisite.binary} (${prerequisite.why})`).join(', ');
}

export function missingMessage(absent: Prerequisite[], machine: Pick<Machine, 'platform' | 'isRoot'>): string {
  const apt = `${machine.isRoot ? '' : 'sudo '}apt-get install -y ${absent.flatMap((prerequisite) => prerequisite.debianPackages).join(' ')}`;
  const brew = absent.map((prerequisite) => prerequisite.brewInstall).join(' && ');
  const install =
    machine.platform === 'darwin' ? `on macOS with: ${brew}` : machine.platform === 'linux' ? `on Debian/Ubuntu with: ${apt}` : `on Debian/Ubuntu with: ${apt}, or on macOS with: ${brew}`;
  return `The tests need ${describe(absent)}, which this machine lacks; install ${absent.length === 1 ? 'it' : 'them'} ${install}`;
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
