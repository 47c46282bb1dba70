import { readFileSync } from 'node:fs';

/** A .cpuprofile (the inspector's Profiler.Profile), reduced to where the samples landed. */
interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
  children?: number[];
}

interface Profile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples?: number[];
  timeDeltas?: number[];
}

export interface ProfileSummary {
  /** Sampled time, ms. */
  totalMs: number;
  idleMs: number;
  gcMs: number;
  /** Self time by area (a package under node_modules, Offload's own src/, node internals, ...). */
  byArea: Array<{ area: string; ms: number; share: number }>;
  /** Self time by function. */
  topFunctions: Array<{ fn: string; ms: number; share: number }>;
  /** Inclusive time of Offload's own functions (src/...), the easiest to act on. */
  ownInclusive: Array<{ fn: string; ms: number; share: number }>;
}

function areaOf(url: string, functionName: string): string {
  if (functionName === '(idle)') return '(idle)';
  if (functionName === '(garbage collector)') return '(gc)';
  if (functionName === '(program)') return '(program: native, parsing, runtime)';
  if (!url) return '(native/builtin)';
  const modules = url.lastIndexOf('node_modules/');
  if (modules >= 0) {
    const rest = url.slice(modules + 'node_modules/'.length).split('/');
    return rest[0].startsWith('@') ? `${rest[0]}/${rest[1]}` : rest[0];
  }
  if (url.startsWith('node:')) return `node:${url.slice(5).split('/')[0] === 'internal' ? url.slice(5).split('/')[1] : url.slice(5)}`;
  const src = url.indexOf('/dist/src/');
  if (src >= 0) return `src/${url.slice(src + '/dist/src/'.length).split('/')[0]}`;
  return url.replace(/^file:\/\//, '');
}

function label(node: ProfileNode): string {
  const { functionName, url, lineNumber } = node.callFrame;
  const file = url.replace(/^file:\/\//, '').replace(/^.*\/node_modules\//, '').replace(/^.*\/dist\//, '');
  return `${functionName || '(anonymous)'}${file ? ` ${file}:${lineNumber + 1}` : ''}`;
}

export function summarizeProfile(path: string, top = 15): ProfileSummary {
  const profile = JSON.parse(readFileSync(path, 'utf8')) as Profile;
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  // Self time per node from the samples and their time deltas (µs).
  const selfUs = new Map<number, number>();
  const samples = profile.samples ?? [];
  const deltas = profile.timeDeltas ?? [];
  for (let i = 0; i < samples.length; i++) {
    const delta = deltas[i + 1] ?? deltas[i] ?? 0;
    selfUs.set(samples[i], (selfUs.get(samples[i]) ?? 0) + Math.max(0, delta));
  }
  const parent = new Map<number, number>();
  for (const node of profile.nodes) for (const child of node.children ?? []) parent.set(child, node.id);

  let totalUs = 0;
  let idleUs = 0;
  let gcUs = 0;
  const areas = new Map<string, number>();
  const functions = new Map<string, number>();
  const ownInclusive = new Map<string, number>();
  for (const [id, us] of selfUs) {
    const node = byId.get(id)!;
    totalUs += us;
    const area = areaOf(node.callFrame.url, node.callFrame.functionName);
    if (area === '(idle)') {
      idleUs += us;
      continue;
    }
    if (area === '(gc)') gcUs += us;
    areas.set(area, (areas.get(area) ?? 0) + us);
    functions.set(label(node), (functions.get(label(node)) ?? 0) + us);
    // Charge each of Offload's own frames on the stack once.
    const seen = new Set<string>();
    for (let at: number | undefined = id; at !== undefined; at = parent.get(at)) {
      const frame = byId.get(at)!;
      if (frame.callFrame.url.includes('/dist/src/')) {
        const name = label(frame);
        if (!seen.has(name)) {
          seen.add(name);
          ownInclusive.set(name, (ownInclusive.get(name) ?? 0) + us);
        }
      }
    }
  }
  const busyUs = Math.max(1, totalUs - idleUs);
  const rank = (map: Map<string, number>, key: 'area' | 'fn') =>
    [...map]
      .sort((a, b) => b[1] - a[1])
      .slice(0, top)
      .map(([name, us]) => ({ [key]: name, ms: Math.round(us / 1000), share: Math.round((us / busyUs) * 1000) / 10 }));
  return {
    totalMs: Math.round(totalUs / 1000),
    idleMs: Math.round(idleUs / 1000),
    gcMs: Math.round(gcUs / 1000),
    byArea: rank(areas, 'area') as ProfileSummary['byArea'],
    topFunctions: rank(functions, 'fn') as ProfileSummary['topFunctions'],
    ownInclusive: rank(ownInclusive, 'fn') as ProfileSummary['ownInclusive'],
  };
}

export function formatProfile(name: string, summary: ProfileSummary): string {
  const busy = summary.totalMs - summary.idleMs;
  const lines = [
    `${name}: ${busy} ms busy of ${summary.totalMs} ms sampled (${Math.round((busy / Math.max(1, summary.totalMs)) * 100)}%), GC ${summary.gcMs} ms`,
    '  self time by area (share of busy time):',
    ...summary.byArea.map((row) => `    ${String(row.share).padStart(5)}%  ${row.area}`),
    '  self time by function:',
    ...summary.topFunctions.map((row) => `    ${String(row.share).padStart(5)}%  ${row.fn}`),
    "  inclusive time of Offload's own functions:",
    ...summary.ownInclusive.map((row) => `    ${String(row.share).padStart(5)}%  ${row.fn}`),
  ];
  return lines.join('\n');
}
