import 'reflect-metadata';
import { startTracing } from './telemetry/tracing';

const tracing = startTracing();

/** How long after SHUTDOWN_GRACE_MS (and the wait for HubSpot writes already sent) a stopping process may take to close its connections. */
const SHUTDOWN_CLOSE_MS = 4_000;

async function main(): Promise<void> {
  // Loaded after tracing starts, so that instrumentation sees every module it patches.
  const { ConfigError } = await import('./config/environment');
  let config;
  let app;
  try {
    const { loadConfig } = await import('./config/app-config');
    config = loadConfig();
    // The handlers' own settings are checked before the app is loaded, so an invalid one is refused as fast as a core one.
    const { discoverHandlerClasses } = await import('./registry/handler-discovery');
    const { checkHandlerClasses } = await import('./registry/handler-registry');
    const { readHandlerSettings } = await import('./registry/handler-settings');
    const handlerClasses = discoverHandlerClasses();
    readHandlerSettings(checkHandlerClasses(handlerClasses), config.environment);
    const { createApp } = await import('./bootstrap');
    app = await createApp(config, handlerClasses);
  } catch (error) {
    if (error instanceof ConfigError) {
      console.error(error.message);
      process.exit(78);
    }
    throw error;
  }
  await app.listen({ port: config.port, host: config.host });
  const logger = app.get((await import('nestjs-pino')).Logger);
  // Node prints process warnings (a library's negative timeout, say) as plain text on stderr: they go to the JSON log instead.
  process.removeAllListeners('warning');
  process.on('warning', (warning) => logger.warn({ event: 'process.warning', name: warning.name, err: warning }, warning.message, 'process'));
  const { CALL_TIMEOUT_MS } = await import('./hubspot/client/hubspot-gateway');
  logger.log(`Offload (${config.role}) listening on ${config.host}:${config.port}`);

  // On SIGTERM (a deployment rolling) or SIGINT: stop taking work, let running jobs finish or hand
  // them back (see JobWorkers), see through the HubSpot writes already sent, close connections,
  // and exit 0 so the stop reads as clean.
  let stopping = false;
  const stop = async (signal: NodeJS.Signals) => {
    if (stopping) return;
    stopping = true;
    logger.log(`${signal} received: shutting down`);
    // A connection stuck reconnecting can keep a close from ever completing; past a deadline the
    // process exits anyway. Nothing is lost by it: runs not recorded are claimed again once their
    // deadline passes, and writes sent but not settled are read back by another writer.
    const writesSent = config.role === 'api' ? 0 : CALL_TIMEOUT_MS;
    setTimeout(() => {
      logger.error('Shutdown did not complete in time: exiting');
      process.exit(1);
    }, config.shutdownGraceMs + writesSent + SHUTDOWN_CLOSE_MS).unref();
    await app.close();
    await tracing?.shutdown();
    process.exit(0);
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
}

main().catch((error: Error) => {
  console.error(`Offload failed to start: ${error.stack ?? error.message}`);
  process.exit(1);
});
