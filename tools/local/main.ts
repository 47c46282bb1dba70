import { DEFAULT_DATABASE_URL } from '../../src/config/app-config';
import { applyLocalSecrets } from './local-secrets';
import { migrate } from '../../src/database/migrate';

/**
 * `npm run local`: Offload on this machine with nothing to set up. It keeps generated secrets in
 * .env.local (ignored by git) so they survive restarts, migrates the database, then starts as
 * `npm start` does. Variables already in the environment win.
 */
async function main(): Promise<void> {
  applyLocalSecrets();
  const applied = await migrate(process.env.DATABASE_URL?.trim() || DEFAULT_DATABASE_URL);
  if (applied.length > 0) console.log(`Migrated: ${applied.join(', ')}`);
  const port = process.env.PORT ?? '3000';
  console.log(
    [
      '',
      `Offload is starting on http://127.0.0.1:${port}  (API docs: /docs, health: /health/ready, metrics: /metrics)`,
      `Admin token (from .env.local): ${process.env.ADMIN_TOKEN}`,
      'Register a portal and get its API key:',
      `  curl -s -X POST http://127.0.0.1:${port}/v1/admin/portals -H "Authorization: Bearer ${process.env.ADMIN_TOKEN}" \\`,
      `       -H 'content-type: application/json' -d '{"hubspotPortalId": 123456, "name": "Demo portal"}'`,
      'Then enqueue a job with that key:',
      `  curl -s -X POST http://127.0.0.1:${port}/v1/jobs -H "Authorization: Bearer <apiKey>" \\`,
      `       -H 'content-type: application/json' -d '{"type": "noop", "input": {"sleepMs": 500}}'`,
      '',
    ].join('\n'),
  );
  require('../../src/main');
}

main().catch((error: Error) => {
  console.error(`Could not start Offload locally: ${error.message}`);
  process.exit(1);
});
