import { discoverHandlerClasses } from '../../src/registry/handler-discovery';
import { checkHandlerClasses } from '../../src/registry/handler-registry';
import type { HandlerDeclaration } from '../../src/registry/job-handler';

/** Every handler this build ships, found and checked as start-up finds and checks them, by type. */
export function loadHandlerDeclarations(): HandlerDeclaration[] {
  return checkHandlerClasses(discoverHandlerClasses()).sort((a, b) => a.type.localeCompare(b.type));
}

/** The declaration of one job type, or an error that lists the known ones. */
export function handlerDeclaration(type: string, declarations = loadHandlerDeclarations()): HandlerDeclaration {
  const declaration = declarations.find((candidate) => candidate.type === type);
  if (!declaration) {
    throw new Error(`Unknown job type "${type}"; the handlers are: ${declarations.map((d) => d.type).join(', ')}`);
  }
  return declaration;
}
