import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';

/** The folder of package.json, seen from the source (ts) or the build (dist/tools) alike. */
export function projectRoot(): string {
  for (let folder = __dirname; ; folder = dirname(folder)) {
    if (existsSync(join(folder, 'package.json'))) return folder;
    if (dirname(folder) === folder) throw new Error(`No package.json above ${__dirname}`);
  }
}
