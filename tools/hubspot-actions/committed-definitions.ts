import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { HandlerDeclaration } from '../../src/registry/job-handler';
import { projectRoot } from '../project-root';
import { actionDefinitions, HsMetaDefinition } from './action-definition';

/** The definitions kept in the repository, one per built-in handler, in the developer platform's form. */
export const COMMITTED_DIR = 'tools/hubspot-actions/definitions';
/** The public URL the committed definitions are made for; a deployment generates its own with its PUBLIC_BASE_URL. */
export const COMMITTED_BASE_URL = 'https://offload.example.com';

export function committedFile(type: string): string {
  return join(projectRoot(), COMMITTED_DIR, `${type}-hsmeta.json`);
}

export function freshDefinition(declaration: HandlerDeclaration): HsMetaDefinition {
  return actionDefinitions(declaration, COMMITTED_BASE_URL).hsmeta;
}

/** The committed definition of a type, or undefined when there is none. */
export function readCommittedDefinition(type: string): unknown {
  try {
    return JSON.parse(readFileSync(committedFile(type), 'utf8'));
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
}

export function writeCommittedDefinitions(declarations: HandlerDeclaration[]): string[] {
  mkdirSync(join(projectRoot(), COMMITTED_DIR), { recursive: true });
  return declarations.map((declaration) => {
    const file = committedFile(declaration.type);
    writeFileSync(file, `${JSON.stringify(freshDefinition(declaration), null, 2)}\n`);
    return file;
  });
}
