import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { handlerDeclaration, loadHandlerDeclarations } from '../custom-code/handler-declarations';
import { StubRunReport, StubRuntimePool, StubRuntimeStats } from '../custom-code/runtime/stub-runtime';
import { generateStub } from '../custom-code/stubs/generate-stub';
import type { StubLanguage } from '../custom-code/stubs/stub-spec';

export type Outputs = Record<string, unknown>;
type ContactProperties = Record<string, string | null>;

/** One custom code action of the workflow, and how its inputs are filled from the contact and earlier steps' outputs. */
export interface WorkflowStep {
  type: string;
  inputs(contact: ContactProperties, earlier: Outputs[]): Record<string, string>;
}

const text = (value: unknown) => (value === null || value === undefined ? '' : String(value));

/** Enrich the company, score the contact against the ICP, give the lead an owner. */
export const WORKFLOW: WorkflowStep[] = [
  {
    type: 'enrichment',
    inputs: (contact) => ({ domain: text(contact.website), name: text(contact.company), email: text(contact.email) }),
  },
  {
    type: 'icp-score',
    inputs: (contact, [enrichment]) => ({
      industry: enrichment.enriched === true ? text(enrichment.industry) : text(contact.industry),
      numberofemployees: Number(enrichment.employee_count) > 0 ? text(enrichment.employee_count) : '',
      country: text(contact.country),
      jobtitle: text(contact.jobtitle),
      lifecyclestage: text(contact.lifecyclestage),
    }),
  },
  // Reads the territories' properties from the contact, icp_tier included, which the step before wrote back.
  { type: 'lead-assignment', inputs: () => ({}) },
];

/** How long the workflow's delay before a poll step is; HubSpot's own delays are longer, the demo keeps it short. */
const POLL_DELAY_MS = 1_000;
const MAX_POLLS = 40;
/** HubSpot runs a step that threw a 429 or 5xx again later, at growing intervals; the demo waits seconds, not minutes. */
const RERUN_DELAYS_MS = [1_000, 2_000, 4_000, 8_000, 10_000, 10_000, 10_000, 10_000];

export interface StepResult {
  type: string;
  /** The final job_status output, or "not-run" when no execution returned outputs. */
  status: string;
  outputs: Outputs;
  jobId: string;
  latencyMs: number;
  /** Why the step has no outputs HubSpot would use, when it has none. */
  problem?: string;
}

export interface EnrollmentResult {
  contactId: string;
  steps: StepResult[];
  latencyMs: number;
}

export interface ExecutionCounts {
  /** Executions of the enqueue-and-wait actions, re-runs included. */
  enqueueAndWait: number;
  polls: number;
  /** Executions run again with the same event after a retryable error. */
  reruns: number;
}

export interface WorkflowProgress {
  /** Contacts past each step, by job type. */
  done: Map<string, number>;
  executions: ExecutionCounts;
  /** Wall-clock time (Date.now()), comparable across processes. */
  startedAt: number;
}

export interface WorkflowRun {
  enrollments: EnrollmentResult[];
  progress: WorkflowProgress;
  elapsedMs: number;
  /** How long each execution took, from handing it to the runtime to its outputs. */
  executionMs: number[];
  runtime: StubRuntimeStats;
  /** CPU time of the workflow's own process: HubSpot's part of the work, which the demo plays. */
  workflowCpuMs: number;
}

interface Actions {
  enqueueAndWait: Map<string, string>;
  poll: Map<string, string>;
  folder: string;
}

/** Generates the workflow's actions as `npm run stub` would: enqueue-and-wait with write-back, and poll, per step. */
async function writeActions(language: StubLanguage): Promise<Actions> {
  const folder = await mkdtemp(join(tmpdir(), 'offload-demo-actions-'));
  const declarations = loadHandlerDeclarations();
  const actions: Actions = { enqueueAndWait: new Map(), poll: new Map(), folder };
  for (const step of WORKFLOW) {
    const declaration = handlerDeclaration(step.type, declarations);
    for (const [mode, files] of [['enqueue-and-wait', actions.enqueueAndWait], ['poll', actions.poll]] as const) {
      const stub = generateStub(declaration, language, mode, { writeback: mode === 'enqueue-and-wait' });
      const file = join(folder, stub.fileName);
      await writeFile(file, stub.code);
      files.set(step.type, file);
    }
  }
  return actions;
}

export interface WorkflowSettings {
  offloadUrl: string;
  apiKey: string;
  hubspotPortalId: number;
  contactIds: string[];
  contact(id: string): ContactProperties;
  concurrency: number;
  language: StubLanguage;
  /** Called after every execution, for the progress display. */
  onExecution?: (progress: WorkflowProgress) => void;
  /** Starts no execution once aborted; the workflow then rejects, after the running ones have ended. */
  stop?: AbortSignal;
}

/**
 * Plays the workflow as HubSpot would: each contact goes through the steps in order, each step is
 * one run of its generated action in the local custom-code runtime (warm processes, reused from
 * one execution to the next as HubSpot reuses warm containers, one per execution running at
 * once); a "pending" job is polled by the poll action after a delay; an execution that throws a
 * retryable error is run again later with the same event, so the same callbackId finds the same job.
 */
export async function playWorkflow(settings: WorkflowSettings): Promise<WorkflowRun> {
  const actions = await writeActions(settings.language);
  const cpuAtStart = process.cpuUsage();
  const progress: WorkflowProgress = {
    done: new Map(WORKFLOW.map((step) => [step.type, 0])),
    executions: { enqueueAndWait: 0, polls: 0, reruns: 0 },
    startedAt: Date.now(),
  };
  const executionMs: number[] = [];
  // Each enrollment runs one execution at a time: as many processes as enrollments, none waits for one.
  const runtime = new StubRuntimePool({ size: settings.concurrency });
  const secrets = { OFFLOAD_URL: settings.offloadUrl, OFFLOAD_API_KEY: settings.apiKey };
  let callbackSequence = 0;
  // A failure of one enrollment (not of a step: of the runtime itself) stops the others too.
  const failed = new AbortController();
  const halt = settings.stop ? AbortSignal.any([settings.stop, failed.signal]) : failed.signal;

  const execute = async (file: string, event: unknown, poll: boolean): Promise<StubRunReport> => {
    halt.throwIfAborted();
    const started = performance.now();
    const report = await runtime.run({ file, event, secrets });
    if (poll) progress.executions.polls++;
    else progress.executions.enqueueAndWait++;
    executionMs.push(performance.now() - started);
    settings.onExecution?.(progress);
    return report;
  };

  /** Runs one execution until HubSpot would stop re-running it: it returned, or failed for good. */
  const executeWithReruns = async (file: string, event: unknown, poll: boolean): Promise<StubRunReport> => {
    let report = await execute(file, event, poll);
    for (const delay of RERUN_DELAYS_MS) {
      if (report.outcome !== 'threw' || !report.error?.retryable) break;
      await sleep(delay, undefined, { signal: halt });
      progress.executions.reruns++;
      report = await execute(file, event, poll);
    }
    return report;
  };

  const runStep = async (step: WorkflowStep, contactId: string, contact: ContactProperties, earlier: Outputs[]): Promise<StepResult> => {
    const started = performance.now();
    const actionId = WORKFLOW.indexOf(step) + 1;
    const event = (inputFields: Record<string, string>, action: number) => ({
      origin: { portalId: settings.hubspotPortalId, actionDefinitionId: action },
      object: { objectType: 'CONTACT', objectId: Number(contactId) },
      inputFields,
      callbackId: `ap-${settings.hubspotPortalId}-${action}-${contactId}-${++callbackSequence}`,
    });
    let report = await executeWithReruns(actions.enqueueAndWait.get(step.type)!, event(step.inputs(contact, earlier), actionId), false);
    for (let polls = 0; polls < MAX_POLLS && report.outputFields?.job_status === 'pending'; polls++) {
      await sleep(POLL_DELAY_MS, undefined, { signal: halt });
      const jobId = String(report.outputFields.job_id);
      report = await executeWithReruns(actions.poll.get(step.type)!, event({ job_id: jobId }, actionId + WORKFLOW.length), true);
    }
    const outputs = report.outputFields ?? {};
    const result: StepResult = {
      type: step.type,
      status: typeof outputs.job_status === 'string' ? outputs.job_status : 'not-run',
      outputs,
      jobId: text(outputs.job_id),
      latencyMs: performance.now() - started,
    };
    if (!report.outputFields) result.problem = `${report.outcome}: ${report.error?.message ?? 'no outputs'}`;
    else if (result.status !== 'succeeded') result.problem = text(outputs.offload_error) || `job_status ${result.status}`;
    return result;
  };

  const enrollments: EnrollmentResult[] = [];
  const queue = [...settings.contactIds];
  const enrol = async () => {
    for (let contactId = queue.shift(); contactId !== undefined; contactId = queue.shift()) {
      const started = performance.now();
      const contact = settings.contact(contactId);
      const steps: StepResult[] = [];
      for (const step of WORKFLOW) {
        steps.push(await runStep(step, contactId, contact, steps.map((done) => done.outputs)));
        progress.done.set(step.type, progress.done.get(step.type)! + 1);
      }
      enrollments.push({ contactId, steps, latencyMs: performance.now() - started });
    }
  };
  // Every enrollment settles before the actions' folder goes: a stop must not pull files from under running executions.
  const settled = await Promise.allSettled(
    Array.from({ length: Math.min(settings.concurrency, queue.length) }, () =>
      enrol().catch((error: unknown) => {
        failed.abort(error);
        throw error;
      }),
    ),
  );
  const elapsedMs = Date.now() - progress.startedAt;
  const runtimeStats = runtime.stats();
  await runtime.close();
  await rm(actions.folder, { recursive: true, force: true });
  const failure = settled.find((result) => result.status === 'rejected');
  if (failure) throw failure.reason;
  const cpu = process.cpuUsage(cpuAtStart);
  return { enrollments, progress, elapsedMs, executionMs, runtime: runtimeStats, workflowCpuMs: (cpu.user + cpu.system) / 1000 };
}
