import { readdirSync, readFileSync } from 'node:fs';
import { cpus } from 'node:os';

/**
 * Where the CPU went during a phase, from /proc (Linux): each Offload process, PostgreSQL (the
 * backends on the benchmark's database and PostgreSQL's own background processes), Redis, the
 * benchmark itself, everything else, and the whole machine. On a 2-core machine this shows at
 * once which part is saturated, and how much other work disturbed the figures. Without /proc it
 * reports nothing.
 */
const TICKS_PER_SECOND = 100; // USER_HZ; 100 on every Linux this runs on

/** Group name -> its process ids, or 'self' for the benchmark process. */
export type CpuGroups = Record<string, number[] | 'self'>;

interface Snapshot {
  at: number;
  groups: Map<string, Map<number, number>>;
  machineBusy: number;
  machineTotal: number;
}

function processTicks(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // fields[0] is field 3 (state); utime and stime are fields 14 and 15
    return Number(fields[11]) + Number(fields[12]);
  } catch {
    return undefined;
  }
}

/** Process ids whose command name is `comm` (e.g. redis-server). */
export function pidsNamed(comm: string): number[] {
  const pids: number[] = [];
  try {
    for (const entry of readdirSync('/proc')) {
      if (!/^\d+$/.test(entry)) continue;
      try {
        if (readFileSync(`/proc/${entry}/comm`, 'utf8').trim() === comm) pids.push(Number(entry));
      } catch {
        // gone meanwhile
      }
    }
  } catch {
    // no /proc
  }
  return pids;
}

function machineTicks(): { busy: number; total: number } {
  const values = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number);
  const total = values.reduce((sum, value) => sum + value, 0);
  const idle = values[3] + (values[4] ?? 0);
  return { busy: total - idle, total };
}

export type CpuSnapshot = Snapshot | undefined;

export class CpuMeter {
  readonly available: boolean;

  constructor(private readonly groups: () => Promise<CpuGroups>) {
    let available = false;
    try {
      readFileSync('/proc/stat');
      available = true;
    } catch {
      // not Linux
    }
    this.available = available;
  }

  async snapshot(): Promise<CpuSnapshot> {
    if (!this.available) return undefined;
    const groups = new Map<string, Map<number, number>>();
    for (const [name, members] of Object.entries(await this.groups())) {
      const ticks = new Map<number, number>();
      if (members === 'self') {
        const usage = process.cpuUsage();
        ticks.set(process.pid, ((usage.user + usage.system) / 1e6) * TICKS_PER_SECOND);
      } else {
        for (const pid of members) {
          const value = processTicks(pid);
          if (value !== undefined) ticks.set(pid, value);
        }
      }
      groups.set(name, ticks);
    }
    const machine = machineTicks();
    return { at: performance.now(), groups, machineBusy: machine.busy, machineTotal: machine.total };
  }

  /**
   * CPU use between two snapshots, in percent of one core (200 = both cores of a 2-core machine
   * busy), plus `other`: everything else on the machine in the same unit, and `machine`: the share
   * of all cores busy (other work included). A process that appeared in between counts whole.
   */
  static between(before: CpuSnapshot, after: CpuSnapshot): Record<string, number> {
    if (!before || !after) return {};
    const seconds = (after.at - before.at) / 1000;
    const usage: Record<string, number> = {};
    let listed = 0;
    for (const [name, ticks] of after.groups) {
      const earlier = before.groups.get(name) ?? new Map<number, number>();
      let delta = 0;
      for (const [pid, value] of ticks) delta += Math.max(0, value - (earlier.get(pid) ?? 0));
      const percent = (delta / TICKS_PER_SECOND / seconds) * 100;
      listed += percent;
      usage[name] = Math.round(percent);
    }
    const total = after.machineTotal - before.machineTotal;
    const busyShare = total > 0 ? (after.machineBusy - before.machineBusy) / total : 0;
    usage.other = Math.max(0, Math.round(busyShare * cpus().length * 100 - listed));
    usage.machine = Math.round(busyShare * 100);
    return usage;
  }
}
