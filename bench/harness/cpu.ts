/**
 * CPU accounting of a run, from /proc (Linux): the CPU time of every process involved, summed.
 *
 * A sample adds up, for each process that counts, utime + stime (its own CPU) and cutime +
 * cstime (that of its children it has waited for). So a process that exits between two
 * samples is still counted, through its parent: the Worker's children through the consumer
 * process that forked them, the consumer and producer processes through this runner, a
 * PostgreSQL backend through the postmaster. The runner's own utime and stime (reading
 * records, drawing progress) are harness overhead and left out.
 *
 * Who counts: the runner's descendants (producers, consumers and their children, servers a
 * contender started), split into `server` (the pids `prepare` returned, and theirs) and
 * `clients`; and the broker processes (`redis-server`, every `postgres` process), found by
 * name. On a shared machine a broker also serves others: its share is then too high.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';

export interface ProcStat {
  pid: number;
  ppid: number;
  /** The command name (`comm`), e.g. `postgres`, `redis-server`, `node`. */
  name: string;
  /** utime + stime, in clock ticks. */
  own: number;
  /** cutime + cstime, in clock ticks. */
  children: number;
}

/** Parses /proc/<pid>/stat; the name may hold spaces and parentheses, so it ends at the last ')'. */
export function parseStat(text: string): ProcStat | null {
  const open = text.indexOf('(');
  const close = text.lastIndexOf(')');
  if (open < 0 || close < open) return null;
  const fields = text.slice(close + 2).split(' ');
  // After the name: state is field 3 of stat, so field n is fields[n - 3].
  const ppid = Number(fields[1]);
  const own = Number(fields[11]) + Number(fields[12]);
  const children = Number(fields[13]) + Number(fields[14]);
  if (![ppid, own, children].every(Number.isFinite)) return null;
  return {
    pid: Number(text.slice(0, open)),
    ppid,
    name: text.slice(open + 1, close),
    own,
    children,
  };
}

function readStat(pid: string): ProcStat | null {
  try {
    return parseStat(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return null; // gone between readdir and read
  }
}

let ticksPerSecond: number | undefined;

/** USER_HZ: 100 on every common Linux build; asked of getconf once to be sure. */
function clockTicks(): number {
  if (ticksPerSecond === undefined) {
    try {
      ticksPerSecond = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim());
    } catch {
      ticksPerSecond = 100;
    }
    if (!Number.isFinite(ticksPerSecond) || ticksPerSecond <= 0) ticksPerSecond = 100;
  }
  return ticksPerSecond;
}

/** CPU seconds used so far, by part. Subtract two samples for a window. */
export interface CpuSample {
  broker: number;
  server: number;
  clients: number;
  total: number;
}

export function cpuDifference(after: CpuSample, before: CpuSample): CpuSample {
  return {
    broker: after.broker - before.broker,
    server: after.server - before.server,
    clients: after.clients - before.clients,
    total: after.total - before.total,
  };
}

export class CpuMeter {
  readonly #root: number;
  readonly #serverPids: ReadonlySet<number>;
  readonly #brokerNames: ReadonlySet<string>;

  constructor(options: { root?: number; serverPids: number[]; brokerNames: string[] }) {
    this.#root = options.root ?? process.pid;
    this.#serverPids = new Set(options.serverPids);
    this.#brokerNames = new Set(options.brokerNames);
  }

  sample(): CpuSample {
    const stats = new Map<number, ProcStat>();
    for (const entry of readdirSync('/proc')) {
      if (!/^\d+$/.test(entry)) continue;
      const stat = readStat(entry);
      if (stat !== null) stats.set(stat.pid, stat);
    }
    const kids = new Map<number, number[]>();
    for (const stat of stats.values()) {
      const list = kids.get(stat.ppid) ?? [];
      list.push(stat.pid);
      kids.set(stat.ppid, list);
    }
    const server = new Set<number>();
    const clients = new Set<number>();
    const walk = (pid: number, inServer: boolean): void => {
      for (const child of kids.get(pid) ?? []) {
        const isServer = inServer || this.#serverPids.has(child);
        (isServer ? server : clients).add(child);
        walk(child, isServer);
      }
    };
    walk(this.#root, false);
    const ticks = (pid: number): number => {
      const stat = stats.get(pid);
      return stat === undefined ? 0 : stat.own + stat.children;
    };
    let brokerTicks = 0;
    for (const stat of stats.values()) {
      if (this.#brokerNames.has(stat.name) && !server.has(stat.pid) && !clients.has(stat.pid)) {
        brokerTicks += stat.own + stat.children;
      }
    }
    let serverTicks = 0;
    for (const pid of server) serverTicks += ticks(pid);
    let clientTicks = stats.get(this.#root)?.children ?? 0;
    for (const pid of clients) clientTicks += ticks(pid);
    const hz = clockTicks();
    const sample = {
      broker: brokerTicks / hz,
      server: serverTicks / hz,
      clients: clientTicks / hz,
      total: 0,
    };
    sample.total = sample.broker + sample.server + sample.clients;
    return sample;
  }
}
