/**
 * The chaos run's judge: from the ledger alone, what was inserted, processed, lost and
 * processed more than once, and why each task ran again.
 *
 * - inserted: ids with an `I` (answered 2xx) or `E` (a retry found the earlier try's task).
 * - processed: ids with a `D`. lost: inserted ids with none. Lost must be 0.
 * - duplicated: ids with two or more `D`: processed more than once.
 * - re-run: ids with two or more `S`: started more than once (a superset of duplicated: a
 *   child killed mid-attempt leaves an `S` without a `D`).
 *
 * Every delivery but a task's last is given the cause of the delivery after it:
 * - kill: its child was SIGKILLed after it started, before the supervisor heard how it ended
 *   (the supervisor handed the task to another child under the same lease, or, after 2
 *   crashes, released it);
 * - lease expiry: its supervisor saw the lease lost (a renewal or the ack answered lease_lost:
 *   the lease ran out while the attempt ran, and the server leased the task again);
 * - server restart: the server was away (killed, not yet listening again) at some time
 *   between this start and the next, and the task came back under a new lease: its renewal or
 *   its ack could not reach the server before the lease ran out (an ack whose retry found the
 *   lease gone counts as settled for the worker, so only the timing tells);
 * - unexplained: none of these. A bug, and a failed run.
 */
import type { Ledger, LedgerRecord } from './chaos-ledger.ts';

export const CAUSES = ['kill', 'lease expiry', 'server restart', 'unexplained'] as const;
export type Cause = (typeof CAUSES)[number];
export type CauseCounts = Record<Cause, number>;

export interface ChaosCheck {
  inserted: number;
  /** Of `inserted`, those known only from an `already_exists` answer to a retry. */
  landedEarlier: number;
  processed: number;
  /** Inserted ids never processed, in number order. */
  lost: string[];
  /** Processed ids that no producer saw acknowledged (an insert whose answer was lost). */
  unacknowledged: number;
  duplicated: number;
  /** Per duplicated id: the cause of its first processing that did not stick. */
  duplicatedBy: CauseCounts;
  rerun: number;
  /** Per extra delivery (every delivery but a task's last). */
  rerunBy: CauseCounts;
  /** A few examples of unexplained deliveries, for the failure message. */
  unexplained: string[];
  serverKills: number;
  workerKills: number;
  serverCrashes: number;
  torn: number;
}

interface Delivery {
  id: string;
  pid: number;
  ppid: number;
  attempt: number;
  start: number;
  done: number | null;
  /** Its supervisor got the child's report and settled the ack (an `A`, ok or not). */
  reported: boolean;
}

export function checkLedger(ledger: Ledger): ChaosCheck {
  const inserted = new Set<string>();
  const landedEarlier = new Set<string>();
  const deliveries = new Map<string, Delivery[]>();
  const childKills = new Map<number, number>();
  /** Kills and crashes of the server. */
  const serverDowns: number[] = [];
  let serverKills = 0;
  const serverUps: number[] = [];
  const leaseLost = new Map<string, { ppid: number; time: number }[]>();
  let serverCrashes = 0;
  // Starts first: a `D` or `A` written in the same millisecond as its `S`, in another file,
  // may come before it in time order.
  for (const record of ledger.records) {
    if (record.type !== 'S') continue;
    push(deliveries, record.id, {
      ...fieldsOf(record),
      start: record.time,
      done: null,
      reported: false,
    });
  }
  for (const record of ledger.records) {
    switch (record.type) {
      case 'I':
        inserted.add(record.id);
        break;
      case 'E':
        landedEarlier.add(record.id);
        break;
      case 'D':
        deliveryOf(deliveries, record).forEach((delivery) => (delivery.done = record.time));
        break;
      case 'A':
        deliveryOf(deliveries, record).forEach((delivery) => (delivery.reported = true));
        break;
      case 'L':
        push(leaseLost, record.id, { ppid: record.ppid, time: record.time });
        break;
      case 'K':
        if (record.id === 'server') {
          serverDowns.push(record.time);
          serverKills += 1;
        } else childKills.set(record.pid, record.time);
        break;
      case 'U':
        serverUps.push(record.time);
        break;
      case 'X':
        serverCrashes += 1;
        serverDowns.push(record.time);
        break;
      default:
        break;
    }
  }
  const answered2xx = new Set(inserted);
  for (const id of landedEarlier) inserted.add(id);

  const context = { childKills, outages: outagesOf(serverDowns, serverUps), leaseLost };
  const duplicatedBy = zeroCounts();
  const rerunBy = zeroCounts();
  const unexplained: string[] = [];
  let processed = 0;
  let duplicated = 0;
  let rerun = 0;
  let unacknowledged = 0;
  for (const [id, list] of deliveries) {
    const done = list.filter((delivery) => delivery.done !== null);
    if (done.length > 0) {
      processed += 1;
      if (!inserted.has(id)) unacknowledged += 1;
    }
    if (list.length < 2) continue;
    rerun += 1;
    let firstDoneCause: Cause | null = null;
    for (let index = 0; index + 1 < list.length; index += 1) {
      const delivery = list[index] as Delivery;
      const cause = causeOf(list, index, context);
      rerunBy[cause] += 1;
      if (cause === 'unexplained' && unexplained.length < 10) {
        unexplained.push(describe(delivery, list[index + 1] as Delivery));
      }
      if (delivery.done !== null) firstDoneCause ??= cause;
    }
    if (done.length > 1) {
      duplicated += 1;
      duplicatedBy[firstDoneCause ?? 'unexplained'] += 1;
    }
  }
  const lost = [...inserted]
    .filter((id) => !(deliveries.get(id) ?? []).some((delivery) => delivery.done !== null))
    .sort((a, b) => Number(a.slice(1)) - Number(b.slice(1)));
  return {
    inserted: inserted.size,
    landedEarlier: [...landedEarlier].filter((id) => !answered2xx.has(id)).length,
    processed,
    lost,
    unacknowledged,
    duplicated,
    duplicatedBy,
    rerun,
    rerunBy,
    unexplained,
    serverKills,
    workerKills: childKills.size,
    serverCrashes,
    torn: ledger.torn,
  };
}

interface CauseContext {
  childKills: Map<number, number>;
  /** [down, up again] of each time the server was away. */
  outages: [number, number][];
  leaseLost: Map<string, { ppid: number; time: number }[]>;
}

/** Why the task was delivered again after `list[index]`. */
function causeOf(list: Delivery[], index: number, context: CauseContext): Cause {
  const delivery = list[index] as Delivery;
  const next = list[index + 1] as Delivery;
  const killedAt = context.childKills.get(delivery.pid);
  const killed = killedAt !== undefined && killedAt >= delivery.start;
  // The same lease, another child: only a dead child's task is handed on.
  if (next.attempt === delivery.attempt && next.ppid === delivery.ppid) {
    return killed ? 'kill' : 'unexplained';
  }
  // A lease this supervisor lost before it leased the task again (if it did) was this one's.
  const again = list
    .slice(index + 1)
    .find((later) => later.ppid === delivery.ppid && later.attempt !== delivery.attempt);
  const lostLease = (context.leaseLost.get(delivery.id) ?? []).some(
    (lost) =>
      lost.ppid === delivery.ppid &&
      lost.time >= delivery.start &&
      lost.time < (again?.start ?? Infinity),
  );
  if (lostLease) return 'lease expiry';
  // Killed before its supervisor heard of the end: redelivered twice already, then released.
  if (killed && !delivery.reported) return 'kill';
  // The server was away at some time between the two starts.
  const outage = context.outages.some(([down, up]) => down <= next.start && up >= delivery.start);
  return outage ? 'server restart' : 'unexplained';
}

/** Each kill (or crash) until the next time the server listened. */
function outagesOf(downs: number[], ups: number[]): [number, number][] {
  return [...downs]
    .sort((a, b) => a - b)
    .map((down) => [down, ups.find((up) => up >= down) ?? Infinity]);
}

function fieldsOf(record: LedgerRecord): Omit<Delivery, 'start' | 'done' | 'reported'> {
  return { id: record.id, pid: record.pid, ppid: record.ppid, attempt: record.attempt };
}

/** The delivery a `D` or `A` is about: the start of that task by that child and attempt (a
 * child runs one attempt of a task once), as a list of 0 or 1. */
function deliveryOf(deliveries: Map<string, Delivery[]>, record: LedgerRecord): Delivery[] {
  const list = deliveries.get(record.id) ?? [];
  for (let index = list.length - 1; index >= 0; index -= 1) {
    const delivery = list[index] as Delivery;
    if (delivery.pid === record.pid && delivery.attempt === record.attempt) return [delivery];
  }
  return [];
}

function push<T>(map: Map<string, T[]>, key: string, value: T): void {
  const list = map.get(key);
  if (list === undefined) map.set(key, [value]);
  else list.push(value);
}

function zeroCounts(): CauseCounts {
  return { kill: 0, 'lease expiry': 0, 'server restart': 0, unexplained: 0 };
}

function describe(delivery: Delivery, next: Delivery): string {
  const show = (d: Delivery): string =>
    `pid ${d.pid} (worker ${d.ppid}) attempt ${d.attempt} at ${d.start}${d.done === null ? '' : ` done ${d.done}`}`;
  return `${delivery.id}: ${show(delivery)}, then ${show(next)}`;
}

/** `12 (kill 3, lease expiry 5, server restart 4)`: the causes that occurred. */
export function formatCauses(total: number, counts: CauseCounts): string {
  const parts = CAUSES.filter((cause) => counts[cause] > 0).map(
    (cause) => `${cause} ${counts[cause]}`,
  );
  return parts.length === 0 ? String(total) : `${total} (${parts.join(', ')})`;
}
