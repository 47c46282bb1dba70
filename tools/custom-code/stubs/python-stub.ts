import type { OutputValue } from '../../../src/registry/job-handler';
import { LONG_POLL_MAX_SECONDS, REQUEST_TIMEOUT_MS, STUB_DEADLINE_MS, StubSpec } from './stub-spec';

function literal(value: OutputValue): string {
  if (typeof value === 'boolean') return value ? 'True' : 'False';
  // A JSON string is also a valid Python string literal.
  return JSON.stringify(value);
}

function dictLiteral(entries: Array<[string, string]>): string {
  return entries.length === 0 ? '{}' : `{\n${entries.map(([name, value]) => `    ${JSON.stringify(name)}: ${value},`).join('\n')}\n}`;
}

const RUN_BY_MODE = {
  enqueue: `def run(event, deadline):
    offload = connect()
    return outputs_of(enqueue(offload, event, deadline))`,
  'enqueue-and-wait': `def run(event, deadline):
    offload = connect()
    job = enqueue(offload, event, deadline)
    return outputs_of(until_ended(offload, job, deadline))`,
  poll: `def run(event, deadline):
    offload = connect()
    job_id = str((event.get("inputFields") or {}).get("job_id") or "").strip()
    if not job_id:
        raise StepFailure('missing required input "job_id": map it to the job_id output of the step that enqueued the job')
    return outputs_of(until_ended(offload, {"id": job_id, "status": "unknown"}, deadline))`,
};

// The handler takes record properties by name: every other input the action declares goes as HubSpot gives it.
const PASS_ON_PROPERTIES = `
    for name, value in given.items():
        if name not in INPUTS and value is not None and value != "":
            values[name] = value`;

const enqueueFunction = (writeback: boolean, propertyInputs: boolean) => `def enqueue(offload, event, deadline):
    obj = event.get("object") or {}
    request = {
        "type": JOB_TYPE,
        "input": inputs_of(event.get("inputFields") or {}),
        "idempotencyKey": idempotency_key(event),
        "callbackId": event.get("callbackId"),${writeback ? '\n        "writeback": True,' : ''}
    }
    if obj.get("objectType") and obj.get("objectId") is not None:
        request["object"] = {"type": obj["objectType"], "id": obj["objectId"]}
    status, body = offload("POST", "/v1/jobs", request, within(deadline, REQUEST_TIMEOUT_SECONDS))
    error = body.get("error") if isinstance(body, dict) else None
    if status == 409 and isinstance(error, dict) and error.get("code") == "idempotency_conflict":
        earlier_job_id = (error.get("details") or {}).get("jobId")
        if earlier_job_id:
            # This execution enqueued before with other input values (the record changed between HubSpot's retries): that job stands.
            return job_of(*offload("GET", f"/v1/jobs/{quote(earlier_job_id, safe='')}", None, within(deadline, REQUEST_TIMEOUT_SECONDS)))
    return job_of(status, body)


def within(deadline, seconds):
    return max(0.001, min(seconds, deadline - time.monotonic()))


# The same execution always makes the same key, so a re-run of this step finds the job it started.
def idempotency_key(event):
    portal_id = (event.get("origin") or {}).get("portalId")
    if portal_id is None or not event.get("callbackId"):
        raise StepFailure("the event has no origin.portalId or callbackId, so no idempotency key can be derived")
    obj = event.get("object") or {}
    object_type = obj.get("objectType")
    parts = ["hs", portal_id, None if object_type is None else str(object_type).lower(), obj.get("objectId"), JOB_TYPE, event["callbackId"]]
    return ":".join("" if part is None else str(part) for part in parts)


def inputs_of(given):
    values = {}
    for name, spec in INPUTS.items():
        value = given.get(name)
        if value is None or value == "":
            if spec["required"]:
                raise StepFailure(f'missing required input "{name}"')
            continue
        values[name] = coerce(name, spec["kind"], value)${propertyInputs ? PASS_ON_PROPERTIES : ''}
    return values


# HubSpot passes property values as text: read each as the kind the handler's input schema declares.
def coerce(name, kind, value):
    if kind == "string":
        return json.dumps(value) if isinstance(value, bool) else str(value)
    if kind in ("number", "integer"):
        text = value.strip() if isinstance(value, str) else None
        number = float(text) if text is not None and NUMBER_TEXT.match(text) else value
        if isinstance(number, bool) or not isinstance(number, (int, float)) or not math.isfinite(number) or (kind == "integer" and number != int(number)):
            raise StepFailure(f'input "{name}" must be {"a whole number" if kind == "integer" else "a number"}, not {json.dumps(value)}')
        return int(number) if number == int(number) else number
    if kind == "boolean":
        word = value.strip().lower() if isinstance(value, str) else value
        if word is True or word == "true":
            return True
        if word is False or word == "false":
            return False
        raise StepFailure(f'input "{name}" must be true or false, not {json.dumps(value)}')
    if kind == "json" and isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            raise StepFailure(f'input "{name}" must be JSON text, not {json.dumps(value)}') from None
    return value`;

const UNTIL_ENDED = `# Long-polls until the job ends, leaving the margin before HubSpot's limit; a job still running is "pending".
def until_ended(offload, job, deadline):
    while job["status"] not in ENDED:
        seconds = min(LONG_POLL_MAX_SECONDS, int(deadline - time.monotonic()) - 1)
        if seconds < 1:
            break
        path = f"/v1/jobs/{quote(job['id'], safe='')}?wait={seconds}"
        job = job_of(*offload("GET", path, None, seconds + 1))
    return job`;

/** The stub's code in Python for HubSpot's Python runtime: requests, and the standard library. */
export function pythonStub(spec: StubSpec, header: string[]): string {
  const inputs = dictLiteral(
    spec.inputs.map((input) => [input.name, `{"kind": ${JSON.stringify(input.kind)}, "required": ${literal(input.required)}}`]),
  );
  const defaults = dictLiteral(spec.handlerOutputs.map((output) => [output.name, literal(output.safeDefault)]));
  const enqueues = spec.mode !== 'poll';
  const waits = spec.mode !== 'enqueue';
  const imports = [
    ...(enqueues ? ['import json', 'import math'] : []),
    'import os',
    'import re',
    'import time',
    'from urllib.parse import quote',
    '',
    'import requests',
  ];
  const constants = [
    `JOB_TYPE = ${JSON.stringify(spec.type)}`,
    `DEADLINE_SECONDS = ${STUB_DEADLINE_MS / 1000}  # HubSpot stops a step at 20 s; the rest is kept for start-up and the answer`,
    ...(enqueues ? [`REQUEST_TIMEOUT_SECONDS = ${REQUEST_TIMEOUT_MS / 1000}`] : []),
    ...(waits ? [`LONG_POLL_MAX_SECONDS = ${LONG_POLL_MAX_SECONDS}`] : []),
    'ENDED = ("succeeded", "failed", "cancelled")',
    ...(enqueues
      ? ['NUMBER_TEXT = re.compile(r"^[+-]?(\\d+\\.?\\d*|\\.\\d+)([eE][+-]?\\d+)?$")', '', "# The handler's inputs, and how each is read.", `INPUTS = ${inputs}`]
      : []),
    '',
    "# The handler's outputs, each with the value it holds when the job gave none.",
    `OUTPUT_DEFAULTS = ${defaults}`,
  ];
  return `${header.map((line) => `# ${line}`.trimEnd()).join('\n')}

${imports.join('\n')}

${constants.join('\n')}


class OffloadUnavailable(requests.HTTPError):
    """What a later run can fix. HubSpot re-runs a step that raises an HTTP error with a 429 or 5xx response."""


class StepFailure(Exception):
    """What no retry can fix: the step returns its outputs, with the reason in offload_error."""


def main(event):
    deadline = time.monotonic() + DEADLINE_SECONDS
    try:
        return {"outputFields": run(event, deadline)}
    except OffloadUnavailable:
        raise
    except StepFailure as failure:
        return {"outputFields": {**OUTPUT_DEFAULTS, "job_id": "", "job_status": "error", "offload_error": str(failure)}}
    except Exception as error:  # a defect still leaves the workflow outputs it can branch on
        print(repr(error))
        return {"outputFields": {**OUTPUT_DEFAULTS, "job_id": "", "job_status": "error", "offload_error": f"unexpected error: {error}"}}


${RUN_BY_MODE[spec.mode]}


def unavailable(message, status):
    response = requests.Response()
    response.status_code = status
    return OffloadUnavailable(message, response=response)


def secret(name):
    value = os.environ.get(name)
    if not value:
        raise StepFailure(f"the secret {name} is not set: add it to this action's secrets")
    return value


def connect():
    base_url = secret("OFFLOAD_URL").rstrip("/")
    if not re.match(r"^https?://[^/]+", base_url):
        raise StepFailure("the secret OFFLOAD_URL is not an http(s) URL")
    headers = {"Authorization": f"Bearer {secret('OFFLOAD_API_KEY')}"}

    def call(method, path, body, timeout):
        try:
            response = requests.request(method, base_url + path, json=body, headers=headers, timeout=timeout)
        except requests.Timeout:
            raise unavailable(f"{method} {path}: Offload did not answer within {timeout:.3g} s", 504) from None
        except requests.RequestException as error:
            raise unavailable(f"{method} {path}: Offload is unreachable ({type(error).__name__})", 503) from None
        if response.status_code == 429 or response.status_code >= 500:
            raise OffloadUnavailable(f"{method} {path}: Offload answered {response.status_code}", response=response)
        try:
            return response.status_code, response.json()
        except ValueError:
            raise StepFailure(f"{method} {path}: Offload answered {response.status_code} with a body that is not JSON") from None

    return call


def job_of(status, body):
    if not 200 <= status < 300:
        error = body.get("error") if isinstance(body, dict) else None
        details = f"{error.get('code')}: {error.get('message')}" if isinstance(error, dict) and error.get("code") else "no error details"
        raise StepFailure(f"Offload refused the request ({status}): {details}")
    if not isinstance(body, dict) or not isinstance(body.get("id"), str) or not isinstance(body.get("status"), str):
        raise StepFailure(f"Offload answered {status} without a job")
    return body


def outputs_of(job):
    outputs = {**OUTPUT_DEFAULTS, "job_id": job["id"], "job_status": "pending", "offload_error": ""}
    if job["status"] == "succeeded":
        produced = job.get("output") or {}
        outputs.update({name: produced[name] for name in OUTPUT_DEFAULTS if produced.get(name) is not None})
        outputs["job_status"] = "succeeded"
    elif job["status"] in ENDED:
        error = job.get("error")
        outputs["job_status"] = job["status"]
        outputs["offload_error"] = f"{error.get('code')}: {error.get('message')}" if error else f"the job was {job['status']}"
    return outputs
${enqueues ? `\n\n${enqueueFunction(spec.writeback, spec.propertyInputs)}\n` : ''}${waits ? `\n\n${UNTIL_ENDED}\n` : ''}`;
}
