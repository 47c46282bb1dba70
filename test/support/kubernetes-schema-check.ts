/**
 * Validates Kubernetes manifests against published schemas: the Kubernetes API's from
 * kubernetes-models (generated from Kubernetes' OpenAPI specification), KEDA's from
 * @kubernetes-models/keda (generated from the API types KEDA's CRDs are made from).
 *
 * Reads a JSON array of manifests on stdin and prints a JSON array with, for each, its kind and
 * name and the schema's complaints (none when valid). Its own Node process, run by
 * kubernetes-manifests.ts: both packages are ES modules only, which the test runner cannot load.
 */

/** API groups whose schemas another package than kubernetes-models carries. */
const SCHEMA_PACKAGES: Record<string, string> = { 'keda.sh': '@kubernetes-models/keda/keda.sh' };

interface Manifest {
  apiVersion?: string;
  kind?: string;
  metadata?: { name?: string };
}

function modelModule(apiVersion: string, kind: string): string {
  const [group, version] = apiVersion.includes('/') ? apiVersion.split('/') : ['', apiVersion];
  return `${group === '' ? 'kubernetes-models' : (SCHEMA_PACKAGES[group] ?? `kubernetes-models/${group}`)}/${version}/${kind}`;
}

async function problemsOf(manifest: Manifest): Promise<string[]> {
  const { apiVersion, kind } = manifest;
  if (!apiVersion || !kind) return ['has no apiVersion or kind'];
  const specifier = modelModule(apiVersion, kind);
  const model = await import(specifier).then(
    (module: Record<string, new (data: unknown) => { validate(): void }>) => module[kind],
    (error: Error) => {
      if (error.message.includes('Cannot find package')) throw new Error(`${error.message}: the schema packages are devDependencies, run npm install`);
      return undefined;
    },
  );
  if (model === undefined) return [`no schema for ${apiVersion} ${kind} (looked for ${specifier})`];
  try {
    new model(manifest).validate();
    return [];
  } catch (error) {
    const errors = (error as { errors?: Array<{ instancePath: string; message?: string; params?: unknown }> }).errors;
    if (!errors) throw error;
    return errors.map((detail) => `${detail.instancePath || '/'} ${detail.message ?? ''} ${JSON.stringify(detail.params ?? {})}`.trim());
  }
}

async function main(): Promise<void> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  const manifests = JSON.parse(Buffer.concat(chunks).toString('utf8')) as Manifest[];
  const results = [];
  for (const manifest of manifests) {
    results.push({ kind: manifest.kind, name: manifest.metadata?.name, problems: await problemsOf(manifest) });
  }
  process.stdout.write(JSON.stringify(results));
}

main().catch((error: Error) => {
  process.stderr.write(`${error.stack ?? error.message}\n`);
  process.exitCode = 1;
});
