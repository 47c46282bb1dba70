import { posix } from 'node:path';

/**
 * What `docker build` does with a build context before it runs anything, reproduced for a machine
 * without a Docker engine: which files an ignore file lets through (the rules of
 * moby/patternmatcher, which BuildKit uses), and where a build stage's COPY instructions put them.
 */

interface IgnorePattern {
  exclusion: boolean;
  regexp: RegExp;
}

/** Go's filepath.Clean for slash-separated paths, which Docker applies to every pattern. */
function clean(pattern: string): string {
  const normalized = posix.normalize(pattern);
  return normalized.length > 1 ? normalized.replace(/\/+$/, '') : normalized;
}

/** A pattern as patternmatcher compiles it: filepath.Match syntax, plus `**` for any number of folders. */
function patternRegExp(pattern: string): RegExp {
  let source = '^';
  for (let index = 0; index < pattern.length; index++) {
    const char = pattern[index];
    if (char === '*') {
      if (pattern[index + 1] === '*') {
        index++;
        if (pattern[index + 1] === '/') index++;
        source += index + 1 === pattern.length ? '.*' : '(.*/)?';
      } else {
        source += '[^/]*';
      }
    } else if (char === '?') {
      source += '[^/]';
    } else if (char === '\\') {
      index++;
      source += `\\${pattern[index] ?? '\\'}`;
    } else if ('.+()|{}$^'.includes(char)) {
      source += `\\${char}`;
    } else {
      source += char;
    }
  }
  return new RegExp(`${source}$`);
}

/** The patterns of a .dockerignore file, in order; the last one that matches a path decides. */
export function parseDockerignore(text: string): IgnorePattern[] {
  const patterns: IgnorePattern[] = [];
  for (const line of text.replace(/^\uFEFF/, '').split(/\r?\n/)) {
    if (line.startsWith('#')) continue;
    let pattern = line.trim();
    if (pattern === '') continue;
    const exclusion = pattern.startsWith('!');
    if (exclusion) pattern = pattern.slice(1).trim();
    if (pattern === '') throw new Error('illegal exclusion pattern: "!"');
    pattern = clean(pattern);
    if (pattern.length > 1 && pattern.startsWith('/')) pattern = pattern.slice(1);
    patterns.push({ exclusion, regexp: patternRegExp(pattern) });
  }
  return patterns;
}

/** patternmatcher's MatchesOrParentMatches: a pattern that matches a folder matches everything in it. */
function isIgnored(file: string, patterns: IgnorePattern[]): boolean {
  const folders = posix.dirname(file).split('/');
  const parents = posix.dirname(file) === '.' ? [] : folders.map((_, index) => folders.slice(0, index + 1).join('/'));
  let ignored = false;
  for (const pattern of patterns) {
    if (pattern.exclusion !== ignored) continue;
    if (pattern.regexp.test(file) || parents.some((parent) => pattern.regexp.test(parent))) ignored = !pattern.exclusion;
  }
  return ignored;
}

/** The files (relative, slash-separated) of `files` that the build context sends to the builder. */
export function contextFiles(files: string[], dockerignore: string): string[] {
  const patterns = parseDockerignore(dockerignore);
  return files.filter((file) => !isIgnored(file, patterns));
}

export interface BuildStage {
  /** The WORKDIR its RUN instructions run in (the last one set). */
  workdir: string;
  /** COPY instructions from the build context (not --from another stage), in order; destinations absolute. */
  copies: Array<{ sources: string[]; destination: string; intoFolder: boolean }>;
  /** Each RUN instruction's commands, split at `&&`. */
  runs: string[][];
}

/** Instructions of a Dockerfile, with continuation lines joined and comments dropped. */
function instructions(dockerfile: string): Array<{ keyword: string; rest: string }> {
  const joined: string[] = [];
  let pending = '';
  for (const line of dockerfile.split(/\r?\n/)) {
    if (/^\s*#/.test(line)) continue;
    if (/\\\s*$/.test(line)) {
      pending += line.replace(/\\\s*$/, ' ');
      continue;
    }
    joined.push(pending + line);
    pending = '';
  }
  if (pending) joined.push(pending);
  return joined
    .map((line) => line.trim())
    .filter(Boolean)
    .map((line) => {
      const [keyword] = line.split(/\s/, 1);
      return { keyword: keyword.toUpperCase(), rest: line.slice(keyword.length).trim() };
    });
}

function copyArguments(rest: string): { flags: string[]; paths: string[] } {
  const words = rest.split(/\s+/);
  const flags = words.filter((word, index) => word.startsWith('--') && words.slice(0, index).every((earlier) => earlier.startsWith('--')));
  const remainder = rest.split(/\s+/).slice(flags.length).join(' ');
  const paths = remainder.startsWith('[') ? (JSON.parse(remainder) as string[]) : remainder.split(/\s+/);
  return { flags, paths };
}

/** The stage `FROM … AS <name>` of a Dockerfile. */
export function buildStage(dockerfile: string, name: string): BuildStage {
  let current: string | undefined;
  let found = false;
  const stage: BuildStage = { workdir: '/', copies: [], runs: [] };
  for (const { keyword, rest } of instructions(dockerfile)) {
    if (keyword === 'FROM') {
      current = /\s+AS\s+(\S+)\s*$/i.exec(rest)?.[1];
      found ||= current === name;
      continue;
    }
    if (current !== name) continue;
    if (keyword === 'WORKDIR') stage.workdir = posix.resolve(stage.workdir, rest);
    if (keyword === 'RUN') stage.runs.push(rest.replace(/^(--\S+\s+)+/, '').split('&&').map((command) => command.trim()));
    if (keyword === 'COPY' || keyword === 'ADD') {
      const { flags, paths } = copyArguments(rest);
      if (flags.some((flag) => flag.startsWith('--from'))) continue;
      const sources = paths.slice(0, -1);
      const destination = paths[paths.length - 1];
      const intoFolder = destination.endsWith('/') || sources.length > 1 || sources.some((source) => /[*?[]/.test(source));
      stage.copies.push({ sources, destination: posix.resolve(stage.workdir, destination), intoFolder });
    }
  }
  if (!found) throw new Error(`the Dockerfile has no stage named ${name}`);
  return stage;
}

/**
 * Where each file of the context lands in the image (absolute path → context path), following
 * the stage's COPY instructions as Docker does: a folder's contents go into the destination, a
 * file into a destination folder (ending in `/`) or to the destination path. A source the context
 * does not send fails, as `docker build` does.
 */
export function placeCopies(stage: BuildStage, sent: string[]): Map<string, string> {
  const placed = new Map<string, string>();
  for (const { sources, destination, intoFolder } of stage.copies) {
    for (const source of sources) {
      const root = clean(source.replace(/^\/+/, ''));
      const named = patternRegExp(root);
      const files = sent.filter((file) => named.test(file));
      const inFolder = sent.filter((file) => root === '.' || file.startsWith(`${root}/`));
      if (files.length === 0 && inFolder.length === 0) {
        throw new Error(`COPY ${source}: not in the build context (the ignore file does not send it)`);
      }
      for (const file of files) placed.set(intoFolder ? posix.join(destination, posix.basename(file)) : destination, file);
      for (const file of inFolder) placed.set(posix.join(destination, root === '.' ? file : file.slice(root.length + 1)), file);
    }
  }
  return placed;
}
