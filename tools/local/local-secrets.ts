import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { projectRoot } from '../project-root';

/** .env.local at the project root (ignored by git). */
export const LOCAL_ENV_FILE = join(projectRoot(), '.env.local');

/**
 * The admin token and encryption key of this machine, generated into .env.local the first time so
 * they survive restarts, and put into the environment where it does not set them already (when it
 * sets both, .env.local is neither read nor made).
 */
export function applyLocalSecrets(envFile = LOCAL_ENV_FILE, env: NodeJS.ProcessEnv = process.env): void {
  if (env.ADMIN_TOKEN && env.ENCRYPTION_KEY) return;
  if (!existsSync(envFile)) {
    const generated = [`ADMIN_TOKEN=${randomBytes(24).toString('base64url')}`, `ENCRYPTION_KEY=${randomBytes(32).toString('hex')}`].join('\n');
    writeFileSync(envFile, `# Generated for this machine only (npm run local, npm run demo).\n${generated}\n`, { mode: 0o600 });
  }
  for (const line of readFileSync(envFile, 'utf8').split('\n')) {
    if (!/^[A-Z_]+=/.test(line)) continue;
    const separator = line.indexOf('=');
    env[line.slice(0, separator)] ??= line.slice(separator + 1);
  }
}
