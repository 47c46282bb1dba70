import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Type } from '@nestjs/common';
import { declarationOf } from './job-handler';

export const HANDLERS_ROOT = join(__dirname, '..', 'handlers');

const HANDLER_FILE = /\.handler\.(ts|js)$/;

/**
 * Every handler class under src/handlers/<type>/*.handler.ts: a team adds a handler by adding a
 * folder, and nothing else lists it.
 */
export function discoverHandlerClasses(root = HANDLERS_ROOT): Type[] {
  const classes: Type[] = [];
  for (const folder of readdirSync(root, { withFileTypes: true })) {
    if (!folder.isDirectory()) continue;
    for (const file of readdirSync(join(root, folder.name))) {
      if (!HANDLER_FILE.test(file) || file.endsWith('.d.ts')) continue;
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      const exported: Record<string, unknown> = require(join(root, folder.name, file));
      for (const value of Object.values(exported)) {
        if (declarationOf(value)) classes.push(value as Type);
      }
    }
  }
  return classes;
}
