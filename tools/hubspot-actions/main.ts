import { writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { hubspotApiVersion } from '../../src/config/app-config';
import { read, url } from '../../src/config/environment';
import { handlerDeclaration, loadHandlerDeclarations } from '../custom-code/handler-declarations';
import { actionDefinitions } from './action-definition';
import { COMMITTED_DIR, writeCommittedDefinitions } from './committed-definitions';
import { publishDefinition } from './publish';

const USAGE = `Usage: npm run action:definition -- <type> [--form hsmeta|api] [--out file] [--publish --app-id N]
       npm run action:definition -- --update-committed

Prints the custom workflow action definition of a handler: its inputs (from the input schema),
outputs (the handler's, plus job_id, job_status and offload_error), labels, object types,
execution rules for Offload's error codes, and its action URL under PUBLIC_BASE_URL.

  --form hsmeta   the developer platform's src/app/workflow-actions/<name>-hsmeta.json (the default)
  --form api      the body of the automation actions API
  --out file      write it to the file instead of printing it
  --publish       send it to the app (--app-id N) through the actions API, on the HUBSPOT_API_VERSION
                  path of HUBSPOT_BASE_URL, with HUBSPOT_DEVELOPER_API_KEY: the app's definition with
                  the same action URL is updated, or a new one is created
  --update-committed  generate again the definitions committed in ${COMMITTED_DIR}`;

async function main(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      form: { type: 'string', default: 'hsmeta' },
      out: { type: 'string' },
      publish: { type: 'boolean' },
      'app-id': { type: 'string' },
      'update-committed': { type: 'boolean' },
      help: { type: 'boolean' },
    },
  });
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  if (values['update-committed']) {
    const written = writeCommittedDefinitions(loadHandlerDeclarations());
    console.log(`Wrote ${written.length} definitions to ${COMMITTED_DIR}.`);
    return 0;
  }
  if (positionals.length !== 1 || (values.form !== 'hsmeta' && values.form !== 'api')) {
    console.error(USAGE);
    return 2;
  }
  const env = process.env;
  const publicBaseUrl = url(env, 'PUBLIC_BASE_URL', undefined, ['http:', 'https:']);
  if (!publicBaseUrl) throw new Error('PUBLIC_BASE_URL is required: the URL HubSpot calls Offload at, which the action URL starts with');
  const definitions = actionDefinitions(handlerDeclaration(positionals[0]), publicBaseUrl);

  if (values.publish) {
    const appId = Number(values['app-id']);
    const developerApiKey = read(env, 'HUBSPOT_DEVELOPER_API_KEY');
    if (!Number.isInteger(appId) || appId <= 0) throw new Error('--publish needs --app-id N, the HubSpot app the action belongs to');
    if (!developerApiKey) throw new Error('--publish needs HUBSPOT_DEVELOPER_API_KEY, the developer account key of the app');
    const baseUrl = url(env, 'HUBSPOT_BASE_URL', 'https://api.hubapi.com', ['http:', 'https:'])!;
    const published = await publishDefinition(definitions.api, { baseUrl, apiVersion: hubspotApiVersion(env), appId, developerApiKey });
    console.log(`${published.created ? 'Created' : 'Updated'} action definition ${published.id} of app ${appId} (${definitions.api.actionUrl}).`);
    return 0;
  }
  const text = `${JSON.stringify(values.form === 'api' ? definitions.api : definitions.hsmeta, null, 2)}\n`;
  if (values.out) writeFileSync(values.out, text);
  else process.stdout.write(text);
  return 0;
}

main(process.argv.slice(2)).then(
  (code) => (process.exitCode = code),
  (error: Error) => {
    console.error((error as { body?: { message?: string } }).body?.message ?? error.message);
    process.exitCode = 1;
  },
);
