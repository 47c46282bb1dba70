export interface CliOption {
  flag: string;
  /** The name of the flag's value in the help; a flag without one is a switch. */
  value?: string;
  help: string;
}

export interface UsagePage {
  /** The npm script that runs the simulator, e.g. sim:hubspot. */
  script: string;
  about: string[];
  options: readonly CliOption[];
  footer: string[];
}

export function usageText(page: UsagePage): string {
  const label = (o: CliOption) => (o.value ? `${o.flag} ${o.value}` : o.flag);
  const width = Math.max(...page.options.map((o) => label(o).length));
  return [
    `Usage: npm run ${page.script} -- [options]`,
    '',
    ...page.about,
    '',
    'Options:',
    ...page.options.map((o) => `  ${label(o).padEnd(width)}  ${o.help}`),
    '',
    ...page.footer,
  ].join('\n');
}

/**
 * Hands each flag of `argv` with its value ('' for a switch) to `take`, in order, so that the first
 * bad argument is the one reported. Values come as `--flag value` or `--flag=value`.
 */
export function readFlags(options: readonly CliOption[], argv: string[], take: (flag: string, value: string) => void): void {
  for (let i = 0; i < argv.length; i++) {
    let flag = argv[i];
    let inline: string | undefined;
    const eq = flag.indexOf('=');
    if (flag.startsWith('--') && eq > 0) {
      inline = flag.slice(eq + 1);
      flag = flag.slice(0, eq);
    }
    const option = options.find((o) => o.flag === flag);
    if (!option) throw new Error(`unknown option ${flag} (see --help)`);
    let value = '';
    if (option.value) {
      value = inline ?? argv[++i];
      if (value === undefined) throw new Error(`${flag} needs a value`);
    }
    take(flag, value);
  }
}

export interface StartedSimulator {
  /** Printed once the simulator listens: where it is and how it is set up. */
  banner: string[];
  close(): Promise<void>;
}

export interface SimulatorCli<Config extends { help: boolean }> {
  parseArgs(argv: string[]): Config;
  usage(): string;
  start(config: Config): Promise<StartedSimulator>;
}

/** Runs a simulator from the command line until SIGINT or SIGTERM; bad arguments exit 2. */
export async function runSimulatorCli<Config extends { help: boolean }>(cli: SimulatorCli<Config>): Promise<void> {
  let config: Config;
  try {
    config = cli.parseArgs(process.argv.slice(2));
  } catch (error) {
    process.stderr.write(`${(error as Error).message}\n`);
    process.exit(2);
  }
  if (config.help) {
    process.stdout.write(`${cli.usage()}\n`);
    return;
  }
  const simulator = await cli.start(config);
  process.stdout.write(`${simulator.banner.join('\n')}\n`);
  const stop = () => void simulator.close().then(() => process.exit(0));
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}
