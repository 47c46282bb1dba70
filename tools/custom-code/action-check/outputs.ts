import { HUBSPOT_OUTPUT_TYPES, HubSpotOutputType } from '../../../src/registry/job-handler';
import { FileFinding, Position } from './finding';

export interface DeclaredOutput {
  name: string;
  type: HubSpotOutputType;
}

/** What the source shows of a returned value's type; `iso-date-string` is a date formatted as text. */
export type ValueKind = 'string' | 'iso-date-string' | 'number' | 'bool' | 'unknown';

export interface ReturnedOutput extends Position {
  name: string;
  kind: ValueKind;
  /** The value, when the source returns a literal string. */
  literal?: string;
}

export interface OutputsFact {
  returned: ReturnedOutput[];
  /** Some output names are computed or spread in, so "declared but never returned" cannot be told. */
  dynamic: boolean;
  /** Where the outputs are built (the first outputFields), to report missing ones at. */
  anchor?: Position;
}

function outputType(type: unknown, where: string): HubSpotOutputType {
  if (typeof type !== 'string' || !(HUBSPOT_OUTPUT_TYPES as readonly string[]).includes(type)) {
    throw new Error(`${where}: type ${JSON.stringify(type)} is not one of ${HUBSPOT_OUTPUT_TYPES.join(', ')}`);
  }
  return type as HubSpotOutputType;
}

function checkedDeclaration(outputs: DeclaredOutput[], where: string): DeclaredOutput[] {
  if (outputs.length === 0) throw new Error(`${where}: declares no outputs`);
  const seen = new Set<string>();
  for (const output of outputs) {
    if (seen.has(output.name)) throw new Error(`${where}: output "${output.name}" is declared twice`);
    seen.add(output.name);
  }
  return outputs;
}

/** `--outputs enriched:bool,industry:string` */
export function parseOutputsOption(text: string): DeclaredOutput[] {
  const outputs = text.split(',').map((entry, index) => {
    const match = /^\s*([^\s:]+)\s*:\s*(\S+)\s*$/.exec(entry);
    if (!match) throw new Error(`--outputs: entry ${index + 1} ("${entry}") is not name:type`);
    return { name: match[1], type: outputType(match[2], `--outputs: ${match[1]}`) };
  });
  return checkedDeclaration(outputs, '--outputs');
}

/** A JSON list of `{"name": ..., "type": ...}`, as read from the file named `source`. */
export function parseDeclaration(json: string, source: string): DeclaredOutput[] {
  let parsed: unknown;
  try {
    parsed = JSON.parse(json);
  } catch (error) {
    throw new Error(`${source}: not valid JSON (${(error as Error).message})`);
  }
  if (!Array.isArray(parsed)) throw new Error(`${source}: must be a JSON list of {"name", "type"} objects`);
  const outputs = parsed.map((item: unknown, index) => {
    const where = `${source}: item ${index + 1}`;
    if (typeof item !== 'object' || item === null) throw new Error(`${where} is not an object`);
    const { name, type } = item as Record<string, unknown>;
    if (typeof name !== 'string' || name.trim() === '') throw new Error(`${where}: "name" must be a non-empty string`);
    return { name, type: outputType(type, where) };
  });
  return checkedDeclaration(outputs, source);
}

const normalised = (name: string): string => name.toLowerCase().replace(/[^a-z0-9]/g, '');

function similarName(name: string, candidates: Iterable<string>): string | undefined {
  for (const candidate of candidates) if (candidate !== name && normalised(candidate) === normalised(name)) return candidate;
  return undefined;
}

function describe(output: ReturnedOutput): string {
  if (output.literal !== undefined) return `the string ${JSON.stringify(output.literal)}`;
  return { string: 'a string', 'iso-date-string': 'a date formatted as text', number: 'a number', bool: 'a boolean', unknown: 'a value' }[output.kind];
}

const isNumeric = (text: string): boolean => text.trim() !== '' && Number.isFinite(Number(text));

/** Why this value does not fit the declared type, for the mismatches that are plain from the source alone. */
function mismatch(output: ReturnedOutput, type: HubSpotOutputType): string | undefined {
  const textual = output.literal !== undefined && !isNumeric(output.literal);
  switch (type) {
    case 'number':
      if (output.kind === 'bool' || output.kind === 'iso-date-string' || textual) return 'a number';
      return undefined;
    case 'datetime':
    case 'date':
      if (output.kind === 'bool' || output.kind === 'iso-date-string' || textual) return 'Unix time in milliseconds';
      return undefined;
    case 'bool':
      if (output.kind === 'number' || (output.literal !== undefined && !['true', 'false'].includes(output.literal))) return 'true or false';
      return undefined;
    default:
      return undefined;
  }
}

export function outputFindings(fact: OutputsFact, declared: DeclaredOutput[]): FileFinding[] {
  const findings: FileFinding[] = [];
  const declaredByName = new Map(declared.map((output) => [output.name, output]));
  const returnedNames = new Set(fact.returned.map((output) => output.name));
  const reported = new Set<string>();
  for (const output of fact.returned) {
    const declaration = declaredByName.get(output.name);
    if (!declaration) {
      if (reported.has(output.name)) continue;
      reported.add(output.name);
      const similar = similarName(output.name, declaredByName.keys());
      findings.push({
        line: output.line,
        column: output.column,
        rule: 'output-mismatch',
        severity: 'error',
        message: `output \`${output.name}\` is returned but not declared, so no later step can use it${similar ? ` (the declaration has \`${similar}\`)` : ''}`,
        fix: similar ? `rename it to \`${similar}\`` : `declare \`${output.name}\` in the action's outputs, or stop returning it`,
      });
      continue;
    }
    const expected = mismatch(output, declaration.type);
    if (expected) {
      findings.push({
        line: output.line,
        column: output.column,
        rule: 'output-mismatch',
        severity: 'warning',
        message: `output \`${output.name}\` is declared ${declaration.type} but gets ${describe(output)}`,
        fix: `return ${expected} for \`${output.name}\`, or change its declared type`,
      });
    }
  }
  if (!fact.dynamic) {
    const at = fact.anchor ?? { line: 1, column: 1 };
    for (const output of declared) {
      if (returnedNames.has(output.name)) continue;
      const similar = similarName(output.name, returnedNames);
      findings.push({
        line: at.line,
        column: at.column,
        rule: 'output-mismatch',
        severity: 'error',
        message: `output \`${output.name}\` (${output.type}) is declared but never returned, so later steps read it empty${similar ? ` (the code returns \`${similar}\`)` : ''}`,
        fix: `return \`${output.name}\` in outputFields, or remove it from the declaration`,
      });
    }
  }
  return findings;
}
