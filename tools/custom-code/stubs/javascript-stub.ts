import { LONG_POLL_MAX_SECONDS, REQUEST_TIMEOUT_MS, STUB_DEADLINE_MS, StubSpec } from './stub-spec';

const IDENTIFIER = /^[A-Za-z_$][\w$]*$/;

function key(name: string): string {
  return IDENTIFIER.test(name) ? name : JSON.stringify(name);
}

function objectLiteral(entries: Array<[string, string]>): string {
  return entries.length === 0 ? '{}' : `{\n${entries.map(([name, value]) => `  ${key(name)}: ${value},`).join('\n')}\n}`;
}

const RUN_BY_MODE = {
  enqueue: `async function run(event, deadline) {
  const offload = connect();
  return outputsOf(await enqueue(offload, event, deadline));
}`,
  'enqueue-and-wait': `async function run(event, deadline) {
  const offload = connect();
  const job = await enqueue(offload, event, deadline);
  return outputsOf(await untilEnded(offload, job, deadline));
}`,
  poll: `async function run(event, deadline) {
  const offload = connect();
  const jobId = String(event.inputFields?.job_id ?? "").trim();
  if (!jobId) throw new StepFailure('missing required input "job_id": map it to the job_id output of the step that enqueued the job');
  return outputsOf(await untilEnded(offload, { id: jobId, status: "unknown" }, deadline));
}`,
};

// The handler takes record properties by name: every other input the action declares goes as HubSpot gives it.
const PASS_ON_PROPERTIES = `
  for (const [name, value] of Object.entries(given)) {
    if (!(name in INPUTS) && value !== undefined && value !== null && value !== "") input[name] = value;
  }`;

const enqueueFunction = (writeback: boolean, propertyInputs: boolean) => `async function enqueue(offload, event, deadline) {
  const object = event.object || {};
  const request = {
    type: JOB_TYPE,
    input: inputsOf(event.inputFields || {}),
    idempotencyKey: idempotencyKey(event),
    callbackId: event.callbackId,${writeback ? '\n    writeback: true,' : ''}
    ...(object.objectType && object.objectId != null ? { object: { type: object.objectType, id: object.objectId } } : {}),
  };
  const answer = await offload("POST", "/v1/jobs", request, within(deadline, REQUEST_TIMEOUT_MS));
  const earlierJobId = answer.status === 409 && answer.body?.error?.code === "idempotency_conflict" && answer.body.error.details?.jobId;
  if (earlierJobId) {
    // This execution enqueued before with other input values (the record changed between HubSpot's retries): that job stands.
    return jobOf(await offload("GET", \`/v1/jobs/\${encodeURIComponent(earlierJobId)}\`, undefined, within(deadline, REQUEST_TIMEOUT_MS)));
  }
  return jobOf(answer);
}

function within(deadline, timeoutMs) {
  return Math.max(1, Math.min(timeoutMs, deadline - Date.now()));
}

// The same execution always makes the same key, so a re-run of this step finds the job it started.
function idempotencyKey(event) {
  const portalId = event.origin?.portalId;
  if (portalId == null || !event.callbackId) {
    throw new StepFailure("the event has no origin.portalId or callbackId, so no idempotency key can be derived");
  }
  const object = event.object || {};
  return ["hs", portalId, String(object.objectType ?? "").toLowerCase(), object.objectId, JOB_TYPE, event.callbackId].join(":");
}

function inputsOf(given) {
  const input = {};
  for (const [name, { kind, required }] of Object.entries(INPUTS)) {
    const value = given[name];
    if (value === undefined || value === null || value === "") {
      if (required) throw new StepFailure(\`missing required input "\${name}"\`);
      continue;
    }
    input[name] = coerce(name, kind, value);
  }${propertyInputs ? PASS_ON_PROPERTIES : ''}
  return input;
}

// HubSpot passes property values as text: read each as the kind the handler's input schema declares.
function coerce(name, kind, value) {
  if (kind === "string") return String(value);
  if (kind === "number" || kind === "integer") {
    const number = typeof value === "string" && NUMBER_TEXT.test(value.trim()) ? Number(value.trim()) : value;
    if (typeof number !== "number" || !Number.isFinite(number) || (kind === "integer" && !Number.isInteger(number))) {
      throw new StepFailure(\`input "\${name}" must be \${kind === "integer" ? "a whole number" : "a number"}, not \${JSON.stringify(value)}\`);
    }
    return number;
  }
  if (kind === "boolean") {
    const word = typeof value === "string" ? value.trim().toLowerCase() : value;
    if (word === true || word === "true") return true;
    if (word === false || word === "false") return false;
    throw new StepFailure(\`input "\${name}" must be true or false, not \${JSON.stringify(value)}\`);
  }
  if (kind === "json" && typeof value === "string") {
    try {
      return JSON.parse(value);
    } catch {
      throw new StepFailure(\`input "\${name}" must be JSON text, not \${JSON.stringify(value)}\`);
    }
  }
  return value;
}`;

const UNTIL_ENDED = `// Long-polls until the job ends, leaving the margin before HubSpot's limit; a job still running is "pending".
async function untilEnded(offload, job, deadline) {
  while (!ENDED.includes(job.status)) {
    const seconds = Math.min(LONG_POLL_MAX_SECONDS, Math.floor((deadline - Date.now()) / 1000) - 1);
    if (seconds < 1) break;
    const path = \`/v1/jobs/\${encodeURIComponent(job.id)}?wait=\${seconds}\`;
    job = jobOf(await offload("GET", path, undefined, (seconds + 1) * 1000));
  }
  return job;
}`;

/** The stub's code in JavaScript for HubSpot's Node.js 24 runtime: built-in fetch, no packages. */
export function javascriptStub(spec: StubSpec, header: string[]): string {
  const inputs = objectLiteral(spec.inputs.map((input) => [input.name, `{ kind: ${JSON.stringify(input.kind)}, required: ${input.required} }`]));
  const defaults = objectLiteral(spec.handlerOutputs.map((output) => [output.name, JSON.stringify(output.safeDefault)]));
  const enqueues = spec.mode !== 'poll';
  const waits = spec.mode !== 'enqueue';
  const constants = [
    `const JOB_TYPE = ${JSON.stringify(spec.type)};`,
    `const DEADLINE_MS = ${STUB_DEADLINE_MS}; // HubSpot stops a step at 20 s; the rest is kept for start-up and the answer`,
    ...(enqueues ? [`const REQUEST_TIMEOUT_MS = ${REQUEST_TIMEOUT_MS};`] : []),
    ...(waits ? [`const LONG_POLL_MAX_SECONDS = ${LONG_POLL_MAX_SECONDS};`] : []),
    'const ENDED = ["succeeded", "failed", "cancelled"];',
    ...(enqueues
      ? ['const NUMBER_TEXT = /^[+-]?(\\d+\\.?\\d*|\\.\\d+)(e[+-]?\\d+)?$/i;', '', "// The handler's inputs, and how each is read.", `const INPUTS = ${inputs};`]
      : []),
    '',
    "// The handler's outputs, each with the value it holds when the job gave none.",
    `const OUTPUT_DEFAULTS = ${defaults};`,
  ];
  return `${header.map((line) => `// ${line}`.trimEnd()).join('\n')}

${constants.join('\n')}

exports.main = async (event) => {
  const deadline = Date.now() + DEADLINE_MS;
  try {
    return { outputFields: await run(event, deadline) };
  } catch (error) {
    if (error instanceof OffloadUnavailable) throw error;
    if (!(error instanceof StepFailure)) console.error(error);
    const reason = error instanceof StepFailure ? error.message : \`unexpected error: \${error?.message || error}\`;
    return { outputFields: { ...OUTPUT_DEFAULTS, job_id: "", job_status: "error", offload_error: reason } };
  }
};

${RUN_BY_MODE[spec.mode]}

// Thrown for what a later run can fix. HubSpot re-runs a step that throws a 429 or 5xx error, which it
// reads as axios errors carry it (error.response.status) and @hubspot/api-client errors (error.code).
class OffloadUnavailable extends Error {
  constructor(message, status, retryAfter) {
    super(message);
    this.name = "OffloadUnavailable";
    this.status = status;
    this.code = status;
    this.response = { status, headers: retryAfter ? { "retry-after": retryAfter } : {} };
  }
}

// What no retry can fix: the step returns its outputs, with the reason in offload_error.
class StepFailure extends Error {}

function secret(name) {
  const value = process.env[name];
  if (!value) throw new StepFailure(\`the secret \${name} is not set: add it to this action's secrets\`);
  return value;
}

function connect() {
  if (typeof fetch !== "function") {
    throw new StepFailure("this code needs HubSpot's Node.js 24 runtime (fetch is missing): choose Node.js 24 in the action's settings");
  }
  const baseUrl = secret("OFFLOAD_URL").replace(/\\/+$/, "");
  if (!/^https?:\\/\\/[^/]+/.test(baseUrl)) throw new StepFailure("the secret OFFLOAD_URL is not an http(s) URL");
  const authorization = \`Bearer \${secret("OFFLOAD_API_KEY")}\`;
  return async (method, path, body, timeoutMs) => {
    let response;
    let text;
    try {
      response = await fetch(baseUrl + path, {
        method,
        headers: body ? { authorization, "content-type": "application/json" } : { authorization },
        body: body ? JSON.stringify(body) : undefined,
        signal: AbortSignal.timeout(timeoutMs),
      });
      text = await response.text();
    } catch (error) {
      if (error?.name === "TimeoutError") throw new OffloadUnavailable(\`\${method} \${path}: Offload did not answer within \${timeoutMs} ms\`, 504);
      throw new OffloadUnavailable(\`\${method} \${path}: Offload is unreachable (\${error?.cause?.code || error?.cause?.message || error})\`, 503);
    }
    if (response.status === 429 || response.status >= 500) {
      throw new OffloadUnavailable(\`\${method} \${path}: Offload answered \${response.status}\`, response.status, response.headers.get("retry-after"));
    }
    try {
      return { status: response.status, body: JSON.parse(text) };
    } catch {
      throw new StepFailure(\`\${method} \${path}: Offload answered \${response.status} with a body that is not JSON\`);
    }
  };
}

function jobOf({ status, body }) {
  if (status < 200 || status >= 300) {
    const error = body?.error;
    throw new StepFailure(\`Offload refused the request (\${status}): \${error?.code ? \`\${error.code}: \${error.message}\` : "no error details"}\`);
  }
  if (typeof body?.id !== "string" || typeof body.status !== "string") throw new StepFailure(\`Offload answered \${status} without a job\`);
  return body;
}

function outputsOf(job) {
  const outputs = { ...OUTPUT_DEFAULTS, job_id: job.id, job_status: "pending", offload_error: "" };
  if (job.status === "succeeded") {
    for (const name of Object.keys(OUTPUT_DEFAULTS)) {
      if (job.output?.[name] != null) outputs[name] = job.output[name];
    }
    outputs.job_status = "succeeded";
  } else if (ENDED.includes(job.status)) {
    outputs.job_status = job.status;
    outputs.offload_error = job.error ? \`\${job.error.code}: \${job.error.message}\` : \`the job was \${job.status}\`;
  }
  return outputs;
}
${enqueues ? `\n${enqueueFunction(spec.writeback, spec.propertyInputs)}\n` : ''}${waits ? `\n${UNTIL_ENDED}\n` : ''}`;
}
