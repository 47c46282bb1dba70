import { builtinModules } from 'node:module';
import { FileFinding, Language, Position } from './finding';
import { nameWords } from './name-words';
import { DeclaredOutput, outputFindings, OutputsFact } from './outputs';
import { NODE_24_REPLACEMENTS, NODE_BUNDLED_LIBRARIES, NOT_BUNDLED_WITH_NODE_24, PYTHON_BUNDLED_MODULES } from './runtime-libraries';
import { LiteralFact, secretFindings } from './secrets';

/** A module the source loads, as written (`lodash/fp`, `node:crypto`, `./helpers`, `google.oauth2`). */
export interface ImportFact extends Position {
  module: string;
}

/** A value drawn from a random or per-run source (`Math.random()`, `uuid.uuid4()`), with the name it is given to. */
export interface RandomFact extends Position {
  source: string;
  /** Sources that can give two executions the same value. */
  repeatable: boolean;
  boundName?: string;
}

/**
 * What each language's analyzer extracts for the rules that are judged the same way in both
 * languages: libraries, secrets, random identifiers and outputs.
 */
export interface SourceFacts {
  imports: ImportFact[];
  literals: LiteralFact[];
  randomValues: RandomFact[];
  outputs: OutputsFact;
}

/** What an analyzer returns for one file: its language-specific findings and the facts judged in common. */
export interface Analysis {
  findings: FileFinding[];
  facts: SourceFacts;
}

export function noFacts(): SourceFacts {
  return { imports: [], literals: [], randomValues: [], outputs: { returned: [], dynamic: true } };
}

export interface FactContext {
  language: Language;
  declaration?: DeclaredOutput[];
  /** Top-level module names of the Python standard library, as the analyzing interpreter knows them. */
  pythonStandardLibrary?: ReadonlySet<string>;
}

const IDENTIFIER_WORDS = new Set(['id', 'ids', 'uuid', 'guid', 'key', 'nonce', 'ref', 'reference', 'idempotency', 'dedup', 'dedupe', 'deduplication']);

const isIdentifierName = (name: string): boolean => nameWords(name).some((word) => IDENTIFIER_WORDS.has(word));

function packageName(module: string): string {
  const parts = module.split('/');
  return module.startsWith('@') ? parts.slice(0, 2).join('/') : parts[0];
}

function isNodeBuiltin(module: string): boolean {
  const name = module.replace(/^node:/, '');
  return module.startsWith('node:') || builtinModules.includes(name) || builtinModules.includes(name.split('/')[0]);
}

function localModuleFinding(fact: ImportFact): FileFinding {
  return {
    line: fact.line,
    column: fact.column,
    rule: 'unavailable-library',
    severity: 'error',
    message: `\`${fact.module}\` is a file of its own: a custom code action is a single file and cannot load others`,
    fix: 'copy the code it needs into the action',
  };
}

function javascriptLibraryFinding(fact: ImportFact): FileFinding | undefined {
  if (fact.module.startsWith('.') || fact.module.startsWith('/')) return localModuleFinding(fact);
  if (isNodeBuiltin(fact.module)) return undefined;
  const name = packageName(fact.module);
  const at = { line: fact.line, column: fact.column, rule: 'unavailable-library' as const, severity: 'error' as const };
  if (Object.hasOwn(NOT_BUNDLED_WITH_NODE_24, name)) {
    return { ...at, message: `\`${name}\` is bundled with the Node.js 16 and 20 runtimes but not with Node.js 24`, fix: NOT_BUNDLED_WITH_NODE_24[name] };
  }
  if (NODE_BUNDLED_LIBRARIES.includes(name)) return undefined;
  return {
    ...at,
    message: `\`${name}\` is not among the libraries HubSpot bundles with custom code actions, so loading it fails`,
    fix: (Object.hasOwn(NODE_24_REPLACEMENTS, name) ? NODE_24_REPLACEMENTS[name] : undefined) ?? `use a bundled library (${NODE_BUNDLED_LIBRARIES.filter((n) => !Object.hasOwn(NOT_BUNDLED_WITH_NODE_24, n)).join(', ')}) or a Node.js built-in module`,
  };
}

function pythonLibraryFinding(fact: ImportFact, standardLibrary: ReadonlySet<string>): FileFinding | undefined {
  if (fact.module.startsWith('.')) return localModuleFinding(fact);
  const top = fact.module.split('.')[0];
  if (standardLibrary.has(top) || Object.hasOwn(PYTHON_BUNDLED_MODULES, top)) return undefined;
  return {
    line: fact.line,
    column: fact.column,
    rule: 'unavailable-library',
    severity: 'error',
    message: `\`${top}\` is neither in the Python standard library nor among the packages HubSpot bundles (${Object.values(PYTHON_BUNDLED_MODULES).join(', ')})`,
    fix: 'use requests for HTTP and the hubspot client for HubSpot, or the standard library',
  };
}

function randomIdentifierFindings(facts: RandomFact[], language: Language): FileFinding[] {
  const derived =
    language === 'javascript'
      ? 'derive it from the event, e.g. `${event.callbackId}:${event.object.objectType}:${event.object.objectId}`'
      : 'derive it from the event, e.g. f\'{event["callbackId"]}:{event["object"]["objectType"]}:{event["object"]["objectId"]}\'';
  return facts
    .filter((fact) => fact.boundName !== undefined && isIdentifierName(fact.boundName))
    .map((fact) => ({
      line: fact.line,
      column: fact.column,
      rule: 'random-identifier' as const,
      severity: fact.repeatable ? ('error' as const) : ('warning' as const),
      message: fact.repeatable
        ? `\`${fact.boundName}\` comes from ${fact.source}, which can give executions that start together the same value, and gives a retried execution a new one`
        : `\`${fact.boundName}\` comes from ${fact.source}, which gives a retried execution a new value, so the receiver cannot recognise the retry`,
      fix: derived,
    }));
}

export function findingsFromFacts(facts: SourceFacts, context: FactContext): FileFinding[] {
  const { language } = context;
  const libraries = facts.imports
    .map((fact) => (language === 'javascript' ? javascriptLibraryFinding(fact) : pythonLibraryFinding(fact, context.pythonStandardLibrary ?? new Set())))
    .filter((finding): finding is FileFinding => finding !== undefined);
  return [
    ...libraries,
    ...secretFindings(facts.literals, language),
    ...randomIdentifierFindings(facts.randomValues, language),
    ...(context.declaration ? outputFindings(facts.outputs, context.declaration) : []),
  ];
}
