/**
 * The programs that run a stub inside its own process, as HubSpot's runtime would: load the code,
 * call main with the event, and write what happened as JSON to file descriptor 3, so nothing the
 * stub prints can be mistaken for it. Each is written into the run's working folder beside the stub.
 */

export const STUB_FILE = { javascript: 'stub.js', python: 'stub.py' } as const;
export const EVENT_FILE = 'event.json';
export const HOST_FILE = { javascript: 'host.js', python: 'host.py' } as const;

/** What a host writes to descriptor 3: main's result or what it threw, how long main took, and peak memory. */
export interface HostResult {
  kind: 'returned' | 'threw';
  value?: unknown;
  error?: { name: string; message: string; status?: number | null; stack?: string };
  callbackStyle?: boolean;
  durationMs: number;
  maxRssKb: number;
}

export const JAVASCRIPT_HOST = `"use strict";
const { readFileSync, writeSync } = require("node:fs");
const started = performance.now();
let callbackStyle = false;

function finish(result) {
  const timing = { callbackStyle, durationMs: performance.now() - started, maxRssKb: process.resourceUsage().maxRSS };
  let text;
  try {
    text = JSON.stringify({ ...result, ...timing });
  } catch (error) {
    const unsendable = { name: "TypeError", message: "the result cannot be sent as JSON: " + error.message };
    text = JSON.stringify({ kind: "threw", error: unsendable, ...timing });
  }
  writeSync(3, text);
  process.exit(0);
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

process.on("uncaughtException", (error) => finish({ kind: "threw", error: thrown(error) }));
process.on("unhandledRejection", (error) => finish({ kind: "threw", error: thrown(error) }));

const event = JSON.parse(readFileSync(${JSON.stringify(EVENT_FILE)}, "utf8"));
const { main } = require(${JSON.stringify(`./${STUB_FILE.javascript}`)});
if (typeof main !== "function") {
  finish({ kind: "threw", error: { name: "TypeError", message: "the code does not set exports.main to a function" } });
}
callbackStyle = main.length >= 2;
const result = callbackStyle
  ? new Promise((resolve, reject) => Promise.resolve().then(() => main(event, resolve)).catch(reject))
  : Promise.resolve().then(() => main(event));
result.then(
  (value) => finish({ kind: "returned", value }),
  (error) => finish({ kind: "threw", error: thrown(error) }),
);
`;

export const PYTHON_HOST = `import importlib.util
import json
import os
import resource
import sys
import time
import traceback

limit = int(sys.argv[1])
resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
# Python adds LC_CTYPE to a C-locale environment; the stub sees its secrets and nothing else.
secrets = set(json.loads(sys.argv[2]))
for name in [name for name in os.environ if name not in secrets]:
    del os.environ[name]
started = time.monotonic()


def finish(result):
    result["durationMs"] = (time.monotonic() - started) * 1000
    result["maxRssKb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    with os.fdopen(3, "w") as channel:
        json.dump(result, channel, default=repr)
    sys.exit(0)


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


try:
    with open(${JSON.stringify(EVENT_FILE)}) as file:
        event = json.load(file)
    spec = importlib.util.spec_from_file_location("stub", ${JSON.stringify(STUB_FILE.python)})
    stub = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(stub)
    value = stub.main(event)
except BaseException as error:
    finish({"kind": "threw", "error": thrown(error)})
finish({"kind": "returned", "value": value})
`;
