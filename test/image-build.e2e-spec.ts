import { execFile } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, realpathSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, posix } from 'node:path';
import { promisify } from 'node:util';
import { buildStage, contextFiles, placeCopies } from './support/docker-context';

const ROOT = join(__dirname, '..');
const run = promisify(execFile);
const read = (file: string) => readFileSync(join(ROOT, file), 'utf8');

/**
 * Docker has no engine on the machines the tests run on, so the image's compile step is played
 * here as `docker build -f docker/Dockerfile .` plays it: only the files the ignore file sends,
 * placed where the build stage's COPY instructions put them, compiled by the stage's npm scripts.
 */
describe('the image build', () => {
  let folder: string;

  afterAll(() => {
    if (folder) rmSync(folder, { recursive: true, force: true });
  });

  it('compiles the service from exactly the files the Dockerfile and its ignore file send', async () => {
    const { stdout } = await run('git', ['ls-files', '-z'], { cwd: ROOT });
    const tracked = stdout.split('\0').filter((file) => file !== '' && existsSync(join(ROOT, file)));
    const stage = buildStage(read('docker/Dockerfile'), 'build');
    const placed = placeCopies(stage, contextFiles(tracked, read('docker/Dockerfile.dockerignore')));

    folder = mkdtempSync(join(tmpdir(), 'offload-image-build-'));
    for (const [imagePath, file] of placed) {
      const relative = posix.relative(stage.workdir, imagePath);
      expect(relative.startsWith('..')).toBe(false);
      mkdirSync(dirname(join(folder, relative)), { recursive: true });
      copyFileSync(join(ROOT, file), join(folder, relative));
    }
    // Stands in for the stage's `npm ci`; its `npm prune` is left out, as it would prune the shared node_modules.
    symlinkSync(realpathSync(join(ROOT, 'node_modules')), join(folder, 'node_modules'), 'dir');

    const scripts = stage.runs.flat().filter((command) => /^npm run \S+$/.test(command));
    expect(scripts).toContain('npm run build');
    for (const script of scripts) {
      await run('npm', script.split(' ').slice(1), { cwd: folder, maxBuffer: 64 * 1024 * 1024 }).catch((error: { stdout: string; stderr: string }) => {
        throw new Error(`${script} failed in the image's build context:\n${error.stdout}${error.stderr}`);
      });
    }
    expect(existsSync(join(folder, 'dist/src/main.js'))).toBe(true);
    expect(existsSync(join(folder, 'dist/src/database/migrate.js'))).toBe(true);
  }, 600_000);
});
