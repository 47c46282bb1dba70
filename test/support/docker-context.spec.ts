import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { buildStage, contextFiles, placeCopies } from './docker-context';

const ROOT = join(__dirname, '..', '..');
const DOCKERFILE = readFileSync(join(ROOT, 'docker/Dockerfile'), 'utf8');
const DOCKERIGNORE = readFileSync(join(ROOT, 'docker/Dockerfile.dockerignore'), 'utf8');

const sent = (files: string[], dockerignore: string) => contextFiles(files, dockerignore);

/** What the build stage reads; and what it must never receive: unit specs, tooling, tests, local state. */
const BUILD_INPUTS = ['package.json', 'package-lock.json', 'tsconfig.json', 'tsconfig.build.json', 'nest-cli.json', 'src/main.ts', 'src/jobs/jobs.service.ts', 'migrations/1-initial.ts'];
const NOT_SENT = ['src/jobs/jobs.service.spec.ts', 'tools/demo/main.ts', 'tools/tsconfig.json', 'test/jobs-api.e2e-spec.ts', 'docker/Dockerfile', 'node_modules/pg/package.json', '.env.local', 'README.md'];

describe('the files a build context sends', () => {
  it('follows the image ignore file: the build inputs, without unit specs or local state', () => {
    expect(sent([...NOT_SENT, ...BUILD_INPUTS], DOCKERIGNORE)).toEqual(BUILD_INPUTS);
  });

  it('lets the last matching line decide, `!` sending again what an earlier line ignored', () => {
    const files = ['a/keep.ts', 'a/drop.ts', 'b/c.ts'];
    expect(sent(files, 'a\n!a/keep.ts')).toEqual(['a/keep.ts', 'b/c.ts']);
    expect(sent(files, '!a/keep.ts\na')).toEqual(['b/c.ts']);
  });

  it('ignores a folder by its name, with or without a slash, leading or trailing', () => {
    const files = ['src/a/b.ts', 'srcs/c.ts'];
    for (const pattern of ['src', 'src/', '/src', './src']) expect(sent(files, pattern)).toEqual(['srcs/c.ts']);
  });

  it('reads `*` and `?` within one path segment, and `**` across any number of folders, none included', () => {
    const files = ['x.spec.ts', 'src/x.spec.ts', 'src/a/b/x.spec.ts', 'src/x.ts', 'src/ab.ts'];
    expect(sent(files, '**/*.spec.ts')).toEqual(['src/x.ts', 'src/ab.ts']);
    expect(sent(files, '*.spec.ts')).toEqual(['src/x.spec.ts', 'src/a/b/x.spec.ts', 'src/x.ts', 'src/ab.ts']);
    expect(sent(files, 'src/?.ts')).toEqual(['x.spec.ts', 'src/x.spec.ts', 'src/a/b/x.spec.ts', 'src/ab.ts']);
    expect(sent(files, 'src/**')).toEqual(['x.spec.ts']);
  });

  it('skips comments and blank lines, and takes dots literally', () => {
    expect(sent(['a.ts', 'abts', '#b'], '# a.ts\n\n  a.ts  \n')).toEqual(['abts', '#b']);
  });
});

describe('the build stage of the image', () => {
  it('copies the dependency manifests, the compiler settings, src and migrations into /app, then runs npm run build', () => {
    const stage = buildStage(DOCKERFILE, 'build');
    expect(stage.workdir).toBe('/app');
    expect(stage.copies.map((copy) => copy.sources)).toEqual([
      ['package.json', 'package-lock.json'],
      ['tsconfig.json', 'tsconfig.build.json', 'nest-cli.json'],
      ['src'],
      ['migrations'],
    ]);
    expect(stage.runs.flat()).toContain('npm run build');
  });

  it('places each sent file where COPY puts it', () => {
    const files = sent([...BUILD_INPUTS, ...NOT_SENT], DOCKERIGNORE);
    expect(Object.fromEntries(placeCopies(buildStage(DOCKERFILE, 'build'), files))).toEqual({
      '/app/package.json': 'package.json',
      '/app/package-lock.json': 'package-lock.json',
      '/app/tsconfig.json': 'tsconfig.json',
      '/app/tsconfig.build.json': 'tsconfig.build.json',
      '/app/nest-cli.json': 'nest-cli.json',
      '/app/src/main.ts': 'src/main.ts',
      '/app/src/jobs/jobs.service.ts': 'src/jobs/jobs.service.ts',
      '/app/migrations/1-initial.ts': 'migrations/1-initial.ts',
    });
  });

  it('fails on a COPY source the context does not send, as docker build does', () => {
    const files = sent(['package.json', 'src/main.ts', 'src/main.spec.ts', 'tools/demo/main.ts'], DOCKERIGNORE);
    const stageCopying = (instruction: string) => buildStage(`FROM node:24-slim AS build\nWORKDIR /app\n${instruction}\n`, 'build');
    expect(() => placeCopies(stageCopying('COPY tools ./tools'), files)).toThrow('COPY tools: not in the build context');
    expect(() => placeCopies(stageCopying('COPY src/main.spec.ts ./'), files)).toThrow('COPY src/main.spec.ts: not in the build context');
    expect(() => placeCopies(stageCopying('COPY src ./src'), files)).not.toThrow();
  });

  it('reads continued lines, flags and the JSON form, and leaves copies from other stages out', () => {
    const stage = buildStage(
      ['FROM node:24-slim AS deps', 'COPY x /x', 'FROM node:24-slim AS build', 'WORKDIR /app', 'COPY --chown=1000:1000 ["a.json", "b.json", "./"]', 'COPY --from=deps /x ./x', 'RUN --mount=type=cache,target=/root/.npm \\', '    npm ci \\', ' && npm run build'].join('\n'),
      'build',
    );
    expect(stage.copies).toEqual([{ sources: ['a.json', 'b.json'], destination: '/app', intoFolder: true }]);
    expect(stage.runs).toEqual([['npm ci', 'npm run build']]);
    expect(() => buildStage(DOCKERFILE, 'compile')).toThrow('no stage named compile');
  });
});
