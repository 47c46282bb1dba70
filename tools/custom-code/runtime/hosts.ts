/**
 * The programs that keep a runtime warm, as HubSpot's runtime keeps a container: started once, each
 * runs one execution after another, loading a stub's code on its first execution and keeping it
 * (so variables outside main may survive between runs, as on HubSpot). Before each execution it
 * takes that execution's secrets as its only environment and its working folder, and resets its
 * peak memory; it answers with main's result or what it threw, what the stub printed, and figures.
 * A Node.js host talks over its IPC channel; a Python host reads requests from standard input and
 * answers on standard output, one JSON line each, after pointing descriptors 0 and 1 at /dev/null
 * so that nothing the stub reads or prints can be mistaken for the protocol.
 */

export const HOST_FILE = { javascript: 'host.js', python: 'host.py' } as const;

/** What the runtime sends a host for one execution. */
export interface HostRequest {
  file: string;
  event: unknown;
  secrets: Record<string, string>;
  /** The execution's working folder. */
  folder: string;
}

/** What a host answers for one execution. */
export interface HostResult {
  kind: 'returned' | 'threw';
  value?: unknown;
  error?: { name: string; message: string; status?: number | null; stack?: string };
  callbackStyle?: boolean;
  /** How long main ran. */
  durationMs: number;
  /**
   * Peak resident memory of the host during this execution: VmHWM, reset before it. Not getrusage's
   * peak, which also counts the parent's memory at the moment the host was started.
   */
  peakRssKb: number;
  /** CPU time of the host process since it started, its start included. */
  hostCpuMs: number;
  /** What the stub printed during this execution. */
  logs: { stdout: string; stderr: string };
}

/** What a host sends once, when it is ready for executions. */
export interface HostReady {
  ready: true;
  hostCpuMs: number;
}

export const MAX_LOG_CHARACTERS = 64 * 1024;

export const JAVASCRIPT_HOST = `"use strict";
const { readFileSync, writeFileSync } = require("node:fs");
let current;

// What the stub prints goes to its execution's logs, not to the host's output.
for (const stream of ["stdout", "stderr"]) {
  process[stream].write = (chunk, encoding, callback) => {
    const logs = current?.logs;
    if (logs && logs[stream].length < ${MAX_LOG_CHARACTERS}) logs[stream] += typeof chunk === "string" ? chunk : Buffer.from(chunk).toString("utf8");
    const done = typeof encoding === "function" ? encoding : callback;
    if (typeof done === "function") process.nextTick(done);
    return true;
  };
}

function cpuMs() {
  const usage = process.cpuUsage();
  return (usage.user + usage.system) / 1000;
}

function finish(execution, result) {
  if (current !== execution) return;
  current = undefined;
  const figures = {
    callbackStyle: execution.callbackStyle,
    durationMs: performance.now() - execution.started,
    peakRssKb: peakMemoryKb(),
    hostCpuMs: cpuMs(),
    logs: execution.logs,
  };
  let text;
  try {
    text = JSON.stringify({ ...result, ...figures });
  } catch (error) {
    const unsendable = { name: "TypeError", message: "the result cannot be sent as JSON: " + error.message };
    text = JSON.stringify({ kind: "threw", error: unsendable, ...figures });
  }
  process.send(text);
}

function thrown(error) {
  const statuses = [error?.response?.status, error?.status, error?.statusCode, error?.code];
  return {
    name: error?.name ?? typeof error,
    message: error?.message ?? String(error),
    status: statuses.find((status) => Number.isInteger(status)) ?? null,
    stack: error?.stack,
  };
}

// An error no execution is waiting for ends the host, as it would end HubSpot's; the runtime starts another.
function uncaught(error) {
  if (!current) process.exit(1);
  finish(current, { kind: "threw", error: thrown(error) });
}
process.on("uncaughtException", uncaught);
process.on("unhandledRejection", uncaught);
process.on("disconnect", () => process.exit(0));

function resetPeakMemory() {
  try {
    writeFileSync("/proc/self/clear_refs", "5");
  } catch {}
}

function peakMemoryKb() {
  try {
    return Number(/^VmHWM:\\s+(\\d+) kB/m.exec(readFileSync("/proc/self/status", "utf8"))[1]);
  } catch {
    return 0;
  }
}

process.on("message", ({ file, event, secrets, folder }) => {
  for (const name of Object.keys(process.env)) delete process.env[name];
  Object.assign(process.env, secrets);
  process.chdir(folder);
  resetPeakMemory();
  const execution = { logs: { stdout: "", stderr: "" }, callbackStyle: false, started: performance.now() };
  current = execution;
  let main;
  try {
    ({ main } = require(file));
  } catch (error) {
    return finish(execution, { kind: "threw", error: thrown(error) });
  }
  if (typeof main !== "function") {
    return finish(execution, { kind: "threw", error: { name: "TypeError", message: "the code does not set exports.main to a function" } });
  }
  execution.callbackStyle = main.length >= 2;
  const result = execution.callbackStyle
    ? new Promise((resolve, reject) => Promise.resolve().then(() => main(event, resolve)).catch(reject))
    : Promise.resolve().then(() => main(event));
  result.then(
    (value) => finish(execution, { kind: "returned", value }),
    (error) => finish(execution, { kind: "threw", error: thrown(error) }),
  );
});

process.send(JSON.stringify({ ready: true, hostCpuMs: cpuMs() }));
`;

export const PYTHON_HOST = `import contextlib
import importlib.util
import io
import json
import os
import resource
import sys
import time
import traceback

limit = int(sys.argv[1])
resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
requests = os.fdopen(os.dup(0), "r")
answers = os.fdopen(os.dup(1), "w")
nowhere = os.open(os.devnull, os.O_RDWR)
os.dup2(nowhere, 0)
os.dup2(nowhere, 1)
stubs = {}


class Log(io.StringIO):
    def write(self, text):
        if self.tell() < ${MAX_LOG_CHARACTERS}:
            super().write(text)
        return len(text)


def send(message):
    try:
        text = json.dumps(message, default=repr)
    except (TypeError, ValueError) as error:
        message["kind"] = "threw"
        message.pop("value", None)
        message["error"] = {"name": "TypeError", "message": "the result cannot be sent as JSON: " + str(error), "status": None}
        text = json.dumps(message, default=repr)
    answers.write(text + "\\n")
    answers.flush()


def thrown(error):
    status = getattr(getattr(error, "response", None), "status_code", None)
    if not isinstance(status, int):
        status = getattr(error, "status", None)
    return {
        "name": type(error).__name__,
        "message": str(error),
        "status": status if isinstance(status, int) and not isinstance(status, bool) else None,
        "stack": traceback.format_exc(),
    }


def reset_peak_memory():
    try:
        with open("/proc/self/clear_refs", "w") as file:
            file.write("5")
    except OSError:
        pass


def peak_memory_kb():
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def main_of(file):
    if file not in stubs:
        spec = importlib.util.spec_from_file_location("stub", file)
        stub = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(stub)
        stubs[file] = stub
    return stubs[file].main


send({"ready": True, "hostCpuMs": time.process_time() * 1000})
for line in requests:
    request = json.loads(line)
    # Python adds LC_CTYPE to a C-locale environment; the stub sees its secrets and nothing else.
    os.environ.clear()
    os.environ.update(request["secrets"])
    os.chdir(request["folder"])
    reset_peak_memory()
    stdout, stderr = Log(), Log()
    started = time.monotonic()
    try:
        with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
            result = {"kind": "returned", "value": main_of(request["file"])(request["event"])}
    except BaseException as error:
        result = {"kind": "threw", "error": thrown(error)}
    result["durationMs"] = (time.monotonic() - started) * 1000
    result["peakRssKb"] = peak_memory_kb()
    result["hostCpuMs"] = time.process_time() * 1000
    result["logs"] = {"stdout": stdout.getvalue(), "stderr": stderr.getvalue()}
    send(result)
`;
