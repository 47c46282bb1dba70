import 'reflect-metadata';
import { DemoEnvironment, startDemoEnvironment } from './demo-environment';
import { DEMO_USAGE, DemoOptions, DemoUsageError, parseDemoOptions } from './demo-options';
import { DemoSummary, summarizeDemo, summaryText } from './demo-summary';
import { ProgressBar } from './progress-bar';
import { playWorkflowInOwnProcess } from './workflow-process';

/** How long a stop may take before the process exits anyway. */
const STOP_DEADLINE_MS = 30_000;

function exploreText(environment: DemoEnvironment, summary: DemoSummary, sampleJobId: string | undefined, port: number): string {
  const url = `http://127.0.0.1:${port}`;
  const { adminToken } = environment.config;
  const { apiKey, hubspotPortalId, id } = environment.portal;
  return [
    '',
    `Offload is running at ${url} with the demo portal ${hubspotPortalId} (Offload id ${id}):`,
    `  API docs          ${url}/docs`,
    `  queues            ${url}/ops/queues  (any user name, the admin token as password)`,
    `  admin token       ${adminToken}`,
    `  portal API key    ${apiKey}`,
    `  HubSpot simulator ${environment.hubspot.url}  (token ${environment.hubspot.token}; calls: ${environment.hubspot.url}/__sim/stats)`,
    `  enrichment        ${environment.enrichment.url}  (calls: ${environment.enrichment.url}/__sim/stats)`,
    ...(sampleJobId
      ? ['', 'One enrolled contact\'s lead-assignment job:', `  curl -s ${url}/v1/jobs/${sampleJobId} -H "Authorization: Bearer ${apiKey}"`]
      : []),
    '',
    `${summary.contacts} contacts were enrolled; enqueue more work with the API key (see /docs).`,
    'Ctrl-C stops Offload and the simulators.',
  ].join('\n');
}

async function runDemo(options: DemoOptions): Promise<number> {
  console.log(`Starting the HubSpot and enrichment simulators and Offload (port ${options.port})...`);
  const environment = await startDemoEnvironment(options);
  const stopping = new AbortController();
  let workflowEnded: Promise<unknown> = Promise.resolve();
  const stop = async () => {
    if (stopping.signal.aborted) return;
    stopping.abort();
    console.error('\nStopping Offload and the simulators...');
    setTimeout(() => process.exit(1), STOP_DEADLINE_MS).unref();
    await workflowEnded;
    await environment.close();
    process.exit(0);
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);

  const port = (environment.app.getHttpServer().address() as { port: number }).port;
  console.log(
    `Enrolling ${options.contacts} contacts: enrichment, ICP score and lead assignment, each a ${options.lang === 'js' ? 'Node.js' : 'Python'} ` +
      `custom code action run ${options.concurrency} at a time`,
  );
  const progressBar = new ProgressBar(options.contacts);
  const cpuAtStart = process.cpuUsage();
  const contactIds = Array.from({ length: options.contacts }, (_, index) => String(index + 1));
  const contacts = Object.fromEntries(contactIds.map((id) => [id, environment.hubspot.getObject('contacts', id)?.properties ?? {}]));
  const workflow = playWorkflowInOwnProcess(
    {
      offloadUrl: environment.offloadUrl,
      apiKey: environment.portal.apiKey,
      hubspotPortalId: environment.portal.hubspotPortalId,
      contactIds,
      contacts,
      concurrency: options.concurrency,
      language: options.lang,
    },
    (progress) => progressBar.update(progress),
    stopping.signal,
  ).finally(() => progressBar.finish());
  workflowEnded = workflow.catch(() => undefined);
  // Stopped by Ctrl-C: the stop handler closes everything and exits.
  const run = await workflow.catch((error: Error) => (stopping.signal.aborted ? new Promise<never>(() => undefined) : Promise.reject(error)));

  const cpu = process.cpuUsage(cpuAtStart);
  const summary = await summarizeDemo(environment, run, options, (cpu.user + cpu.system) / 1000);
  console.log(summaryText(summary, environment));
  console.log(JSON.stringify({ demoSummary: summary }));
  const complete = summary.enrolled === summary.contacts && summary.jobs.duplicates === 0;
  if (options.exit) {
    await environment.close();
    return complete ? 0 : 1;
  }
  const sample = run.enrollments.find((enrollment) => enrollment.steps.every((step) => step.status === 'succeeded'));
  console.log(exploreText(environment, summary, sample?.steps[sample.steps.length - 1].jobId, port));
  return new Promise<number>(() => undefined);
}

async function main(argv: string[]): Promise<number> {
  let options: DemoOptions | undefined;
  try {
    options = parseDemoOptions(argv);
  } catch (error) {
    if (!(error instanceof DemoUsageError)) throw error;
    console.error(`${error.message}\n\n${DEMO_USAGE}`);
    return 2;
  }
  if (!options) {
    console.log(DEMO_USAGE);
    return 0;
  }
  return runDemo(options);
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error: Error) => {
    console.error(`The demo could not run: ${error.message}`);
    process.exit(1);
  },
);
