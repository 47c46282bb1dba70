import 'reflect-metadata';
import { startTracing } from './telemetry/tracing';

const tracing = startTracing();

async function main(): Promise<void> {
  // Loaded after tracing starts, so that instrumentation sees every module it patches.
  const { ConfigError, loadConfig } = await import('./config/app-config');
  let config;
  try {
    config = loadConfig();
  } catch (error) {
    if (error instanceof ConfigError) {
      console.error(error.message);
      process.exit(78);
    }
    throw error;
  }
  const { createApp } = await import('./bootstrap');
  const app = await createApp(config);
  await app.listen({ port: config.port, host: '0.0.0.0' });
  app.get((await import('nestjs-pino')).Logger).log(`Offload (${config.role}) listening on port ${config.port}`);
  process.once('exit', () => void tracing?.shutdown());
}

main().catch((error: Error) => {
  console.error(`Offload failed to start: ${error.stack ?? error.message}`);
  process.exit(1);
});
