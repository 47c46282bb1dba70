import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CHROMIUM, KCAT, KUBECTL, Machine, MissingPrerequisite, Prerequisite, PROMTOOL, providePrerequisites, PYTHON, TEST_PREREQUISITES } from './prerequisites';

function executable(directory: string, name: string): void {
  const file = join(directory, name);
  writeFileSync(file, '#!/bin/sh\nexit 0\n');
  chmodSync(file, 0o755);
}

describe('providing the programs the tests need', () => {
  let bin: string;
  let said: string[];
  let ran: string[];

  /** A machine whose PATH is one empty folder (no kcat) holding a stand-in apt-get. */
  const machine = (overrides: Partial<Machine> = {}): Machine => ({
    path: bin,
    platform: 'linux',
    isRoot: true,
    run: async (command, args) => {
      ran.push([command, ...args].join(' '));
    },
    say: (line) => said.push(line),
    ...overrides,
  });

  /** kcat is only taken once it has shown it can start librdkafka's mock cluster. */
  const kcatProbe = () => `${join(bin, 'kcat')} -L -b 127.0.0.1:1 -X test.mock.num.brokers=1 -m 5`;

  const failure = async (promise: Promise<void>): Promise<MissingPrerequisite> => {
    const error = await promise.then(
      () => undefined,
      (rejection: unknown) => rejection,
    );
    expect(error).toBeInstanceOf(MissingPrerequisite);
    const message = (error as MissingPrerequisite).message;
    expect(message).not.toContain('\n');
    expect((error as MissingPrerequisite).stack).toBe(message);
    return error as MissingPrerequisite;
  };

  beforeEach(() => {
    bin = mkdtempSync(join(tmpdir(), 'offload-prerequisites-'));
    executable(bin, 'apt-get');
    said = [];
    ran = [];
  });

  afterEach(() => rmSync(bin, { recursive: true, force: true }));

  it('lists kcat, for the mock Kafka cluster, and python3 with requests', () => {
    expect(TEST_PREREQUISITES).toEqual([KCAT, PYTHON, PROMTOOL, CHROMIUM, KUBECTL]);
    expect(KUBECTL).toMatchObject({ binary: 'kubectl', probe: ['kustomize', '--help'] });
    expect(PROMTOOL).toMatchObject({ binary: 'promtool', debianPackages: ['prometheus'] });
    expect(CHROMIUM).toMatchObject({ binary: 'chromium', debianPackages: ['chromium'] });
    expect(KCAT).toMatchObject({ binary: 'kcat', debianPackages: ['kcat'], brewInstall: 'brew install kcat' });
    expect(PYTHON).toMatchObject({ binary: 'python3', debianPackages: ['python3', 'python3-requests'] });
  });

  it('does nothing when the binary is already on PATH', async () => {
    executable(bin, 'kcat');
    await providePrerequisites([KCAT], machine());
    expect(ran).toEqual([kcatProbe()]);
    expect(said).toEqual([]);
  });

  it('installs a missing binary as root with apt-get, saying so in one line', async () => {
    await providePrerequisites(
      [KCAT],
      machine({
        run: async (command, args) => {
          ran.push([command, ...args].join(' '));
          if (args[0] === 'install') executable(bin, 'kcat');
        },
      }),
    );
    expect(ran).toEqual(['apt-get update -qq', 'apt-get install -y -qq kcat', kcatProbe()]);
    expect(said).toHaveLength(1);
    expect(said[0]).toContain('kcat');
    expect(said[0]).not.toContain('\n');
  });

  it('fails in one line naming kcat and the command when apt-get fails', async () => {
    const error = await failure(
      providePrerequisites(
        [KCAT],
        machine({
          run: async () => {
            throw new Error('apt-get update -qq: Temporary failure resolving deb.debian.org');
          },
        }),
      ),
    );
    expect(error.message).toMatch(/^The tests need kcat .*apt-get install -y kcat .*Temporary failure resolving deb\.debian\.org/);
  });

  it('fails in one line when apt-get succeeds but the binary is still not on PATH', async () => {
    const error = await failure(providePrerequisites([KCAT], machine()));
    expect(error.message).toContain('apt-get install -y kcat');
  });

  it('installs nothing without root, and names the command with sudo', async () => {
    const error = await failure(providePrerequisites([KCAT], machine({ isRoot: false })));
    expect(ran).toEqual([]);
    expect(said).toEqual([]);
    expect(error.message).toBe(
      'The tests need kcat (the Kafka relay tests run against the mock Kafka cluster of its librdkafka), which this machine lacks; ' +
        'install it on Debian/Ubuntu with: sudo apt-get install -y kcat',
    );
  });

  it('installs nothing where apt-get is not on PATH', async () => {
    rmSync(join(bin, 'apt-get'));
    const error = await failure(providePrerequisites([KCAT], machine()));
    expect(ran).toEqual([]);
    expect(error.message).toContain('apt-get install -y kcat');
  });

  it('names brew on macOS', async () => {
    const error = await failure(providePrerequisites([KCAT], machine({ platform: 'darwin', isRoot: false })));
    expect(ran).toEqual([]);
    expect(error.message).toMatch(/kcat.*install it on macOS with: brew install kcat$/);
  });

  it('installs a binary that is there but fails its probe, and probes it again', async () => {
    executable(bin, 'python3');
    let installed = false;
    await providePrerequisites(
      [PYTHON],
      machine({
        run: async (command, args) => {
          ran.push([command, ...args].join(' '));
          if (command === join(bin, 'python3') && !installed) throw new Error("ModuleNotFoundError: No module named 'requests'");
          if (args[0] === 'install') installed = true;
        },
      }),
    );
    const probe = `${join(bin, 'python3')} ${PYTHON.probe!.join(' ')}`;
    expect(ran).toEqual([probe, 'apt-get update -qq', 'apt-get install -y -qq python3 python3-requests', probe]);
    expect(said).toHaveLength(1);
  });

  it('names every missing prerequisite in one line, with one command for each system', async () => {
    const error = await failure(providePrerequisites([KCAT, PYTHON], machine({ platform: 'freebsd', isRoot: false })));
    expect(error.message).toContain('kcat (');
    expect(error.message).toContain('python3 (');
    expect(error.message).toMatch(
      /install them on Debian\/Ubuntu with: sudo apt-get install -y kcat python3 python3-requests, or on macOS with: brew install kcat && brew install python && .*requests$/,
    );
  });

  it('installs every missing prerequisite in one apt-get call and one line', async () => {
    const chromium: Prerequisite = { binary: 'chromium', debianPackages: ['chromium'], brewInstall: 'brew install --cask chromium', why: 'a browser test' };
    await providePrerequisites(
      [KCAT, chromium],
      machine({
        run: async (command, args) => {
          ran.push([command, ...args].join(' '));
          if (args[0] === 'install') args.slice(3).forEach((name) => executable(bin, name));
        },
      }),
    );
    expect(ran).toEqual(['apt-get update -qq', 'apt-get install -y -qq kcat chromium', kcatProbe()]);
    expect(said).toHaveLength(1);
  });
});
