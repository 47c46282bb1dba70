/**
 * The libraries HubSpot bundles with custom code actions: the only packages an action can load.
 *
 * Node.js: "Node.js supported libraries" in HubSpot's custom code action reference,
 *   https://developers.hubspot.com/docs/api-reference/2026-03/automation/workflow-actions/custom-code-actions
 * (the list of the Node.js 16 and 20 runtimes), and "Upgrade custom code actions to Node.js 24",
 *   https://developers.hubspot.com/docs/api-reference/legacy/automation/workflow-actions/upgrade-custom-code-actions-to-node-24
 * which says the bundled library versions changed with Node.js 24. Node.js built-in modules
 * (node:crypto, https, ...) are always available and are not listed here.
 *
 * Python: "Python supported libraries" in the same reference; the standard library is always there.
 */
export const NODE_BUNDLED_LIBRARIES: readonly string[] = [
  '@hubspot/api-client',
  'async',
  'aws-sdk',
  'axios',
  'bluebird',
  'googleapis',
  'lodash',
  'mongoose',
  'mysql',
  'random-number-csprng',
  'redis',
  'request',
];

/** Bundled with Node.js 16 and 20 but not with Node.js 24, and what to use instead. */
export const NOT_BUNDLED_WITH_NODE_24: Readonly<Record<string, string>> = {
  request: 'use the global fetch (with signal: AbortSignal.timeout(ms)) or axios (with a timeout)',
};

/** Packages often found in older actions that Node.js 24 makes unnecessary. */
export const NODE_24_REPLACEMENTS: Readonly<Record<string, string>> = {
  'node-fetch': 'use the global fetch of Node.js 24',
  'cross-fetch': 'use the global fetch of Node.js 24',
  'request-promise': 'use the global fetch or axios',
  'request-promise-native': 'use the global fetch or axios',
  uuid: "use crypto.randomUUID() from 'node:crypto' (or a key derived from the event for idempotency)",
  moment: 'use Date and Intl.DateTimeFormat',
  dotenv: 'read secrets with process.env.NAME; HubSpot sets them',
};

/** Python import names of the bundled packages, with the package each comes from. */
export const PYTHON_BUNDLED_MODULES: Readonly<Record<string, string>> = {
  requests: 'requests',
  hubspot: 'hubspot-api-client',
  googleapiclient: 'google-api-python-client',
  mysql: 'mysql-connector-python',
  redis: 'redis',
  nltk: 'nltk',
};
