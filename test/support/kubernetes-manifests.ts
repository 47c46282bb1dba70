import { execFile } from 'node:child_process';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { parseAllDocuments } from 'yaml';
import { KUBECTL } from './prerequisites';

/** A rendered manifest: shapes vary by kind, so fields are read loosely. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type Manifest = Record<string, any>;

export interface SchemaReport {
  kind: string;
  name: string;
  /** What the schema finds wrong; empty when the manifest is valid. */
  problems: string[];
}

const ROOT = resolve(__dirname, '..', '..');
const SCHEMA_CHECK = join(__dirname, 'kubernetes-schema-check.ts');

/** The manifests a kustomization directory (relative to the repository) renders, as `kubectl apply -k` would apply them. */
export async function render(directory: string): Promise<Manifest[]> {
  const { stdout } = await promisify(execFile)(KUBECTL.binary, ['kustomize', join(ROOT, directory)], { maxBuffer: 16 * 1024 * 1024 }).catch(
    (error: { stderr?: string; message: string }) => {
      throw new Error(`kubectl kustomize ${directory} failed (${KUBECTL.why}): ${error.stderr || error.message}`);
    },
  );
  return parseAllDocuments(stdout).map((document) => document.toJS() as Manifest);
}

/** Each manifest checked against the published Kubernetes and KEDA schemas (see kubernetes-schema-check.ts), in order. */
export async function schemaReports(manifests: Manifest[]): Promise<SchemaReport[]> {
  const run = promisify(execFile)(process.execPath, [SCHEMA_CHECK], { maxBuffer: 16 * 1024 * 1024 });
  run.child.stdin!.end(JSON.stringify(manifests));
  const { stdout } = await run.catch((error: { stderr?: string; message: string }) => {
    throw new Error(`the schema check failed: ${error.stderr || error.message}`);
  });
  return JSON.parse(stdout) as SchemaReport[];
}
