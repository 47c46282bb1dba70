import { spawn } from 'node:child_process';
import { constants } from 'node:os';

/**
 * Runs the whole test suite (`npm test`, with any arguments given) while two processes keep two
 * CPU cores busy, as on a machine busy with other work, and exits as the suite does. The tests
 * assert behaviour, never speed, so they must pass here too.
 */
const BURNERS = 2;

// A burner also stops on its own once orphaned, should this process be killed outright.
const burn = 'const parent = process.ppid; for (let i = 1; ; i++) if (i % 1e7 === 0 && process.ppid !== parent) process.exit();';
const burners = Array.from({ length: BURNERS }, () => spawn(process.execPath, ['-e', burn], { stdio: 'ignore' }));

function stopBurners(): void {
  for (const burner of burners) if (burner.exitCode === null && burner.signalCode === null) burner.kill('SIGKILL');
}
process.on('exit', stopBurners);

const suite = spawn('npm', ['test', '--', ...process.argv.slice(2)], { stdio: 'inherit' });
suite.on('error', (error) => {
  console.error(`npm test did not start: ${error.message}`);
  process.exit(1);
});
suite.on('exit', (code, signal) => process.exit(code ?? 128 + (signal ? constants.signals[signal] : 0)));

for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
  process.on(signal, () => {
    stopBurners();
    suite.kill(signal);
  });
}
