/**
 * The chaos test, short: 3,000 tasks through a real `pullq serve` while the server is
 * SIGKILLed and restarted at least 3 times and worker children SIGKILLed at least 6 times, on
 * SQLite, PostgreSQL and Redis at once (`npm run chaos` is the long version). No task answered
 * 2xx may be lost, and every task that ran more than once must have a cause (a kill, a lease
 * that ran out, a server restart). Nothing here asserts a speed or how many duplicates there
 * were: those depend on where the kills land. An unreachable PostgreSQL or Redis fails the
 * file under CI=true and skips its run otherwise.
 *
 * First, the judge itself on ledgers written by hand, so that each of its verdicts is known
 * to be reachable and right.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm, truncate } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { BACKENDS, unreachable } from './chaos-backends.ts';
import { checkLedger } from './chaos-checker.ts';
import { DEFAULT_TIMING } from './chaos-controller.ts';
import {
  LedgerWriter,
  RECORD_BYTES,
  readLedger,
  type LedgerRecord,
  type RecordType,
} from './chaos-ledger.ts';
import { passed, runChaos } from './chaos-run.ts';
import { chaosFailures, chaosTable } from './chaos-table.ts';

const TASKS = 3000;
const SERVER_KILLS = 3;
const WORKER_KILLS = 6;

const missing = new Map<string, string>();
for (const backend of BACKENDS) {
  const why = backend === 'sqlite' ? null : await unreachable(backend);
  if (why !== null && process.env['CI'] === 'true') throw new Error(why);
  if (why !== null) missing.set(backend, why);
}

/** A record at `time`; pid, ppid, attempt and flag as in the ledger (-1: not given). */
function rec(
  type: RecordType,
  time: number,
  id: string,
  pid = -1,
  ppid = -1,
  attempt = -1,
  flag = -1,
): LedgerRecord {
  return { type, time, id, pid, ppid, attempt, flag };
}

/** A task inserted at 0 and processed by child `pid` of supervisor 100, attempt `attempt`. */
function ran(id: string, start: number, pid: number, attempt: number, ppid = 100): LedgerRecord[] {
  return [
    rec('S', start, id, pid, ppid, attempt),
    rec('D', start + 10, id, pid, ppid, attempt),
    rec('A', start + 20, id, pid, ppid, attempt, 1),
  ];
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

function check(records: LedgerRecord[]): ReturnType<typeof checkLedger> {
  return checkLedger({ records: [...records].sort((a, b) => a.time - b.time), torn: 0 });
}

describe('the chaos judge', () => {
  it('an acknowledged insert with no done record is lost, and named', () => {
    const result = check([
      rec('I', 0, 't1'),
      rec('I', 0, 't2'),
      rec('E', 0, 't3'),
      ...ran('t1', 100, 11, 1),
      rec('S', 100, 't2', 11, 100, 1),
      ...ran('t3', 100, 11, 1),
    ]);
    assert.equal(result.inserted, 3);
    assert.equal(result.landedEarlier, 1);
    assert.equal(result.processed, 2);
    assert.deepEqual(result.lost, ['t2']);
  });

  it('a task handed to another child under the same lease after its child was killed: kill', () => {
    const result = check([
      rec('I', 0, 't1'),
      rec('S', 100, 't1', 11, 100, 1),
      rec('D', 110, 't1', 11, 100, 1),
      rec('K', 111, 'child', 11),
      ...ran('t1', 300, 12, 1),
    ]);
    assert.equal(result.duplicated, 1);
    assert.equal(result.duplicatedBy.kill, 1);
    assert.equal(result.rerunBy.kill, 1);
    assert.equal(result.workerKills, 1);
  });

  it('a task leased again after its supervisor saw the lease lost: lease expiry', () => {
    const result = check([
      rec('I', 0, 't1'),
      rec('S', 100, 't1', 11, 100, 1),
      rec('D', 9000, 't1', 11, 100, 1),
      rec('L', 9010, 't1', -1, 100),
      ...ran('t1', 6000, 21, 2, 200),
    ]);
    assert.equal(result.duplicatedBy['lease expiry'], 1);
    assert.equal(result.rerunBy.unexplained, 0);
  });

  it('a task leased again after the server was away while its ack was pending: server restart', () => {
    const result = check([
      rec('I', 0, 't1'),
      ...ran('t1', 100, 11, 1),
      rec('K', 120, 'server', 50),
      rec('U', 2000, 'server', 51),
      ...ran('t1', 6000, 21, 2, 200),
    ]);
    assert.equal(result.duplicatedBy['server restart'], 1);
    assert.equal(result.serverKills, 1);
  });

  it('a task that ran twice with no kill, lost lease or outage between is unexplained', () => {
    const result = check([
      rec('I', 0, 't1'),
      rec('K', 10, 'server', 50),
      rec('U', 50, 'server', 51),
      ...ran('t1', 100, 11, 1),
      rec('K', 125, 'child', 11), // after its supervisor heard of the end: not the cause
      ...ran('t1', 6000, 21, 2, 200),
    ]);
    assert.equal(result.duplicatedBy.unexplained, 1);
    assert.equal(result.unexplained.length, 1);
    assert.match(result.unexplained[0] ?? '', /^t1: pid 11/);
  });

  it('the ledger reads back what was written, and counts a record cut short as torn', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'pullq-chaos-ledger-'));
    try {
      const writer = new LedgerWriter(dir, 'one');
      writer.write('I', { id: 't7' });
      writer.write('S', { id: 't7', pid: 12, ppid: 11, attempt: 3 });
      writer.close();
      const whole = readLedger(dir);
      assert.equal(whole.torn, 0);
      assert.deepEqual(
        whole.records.map(({ type, id, pid, ppid, attempt }) => [type, id, pid, ppid, attempt]),
        [
          ['I', 't7', -1, -1, -1],
          ['S', 't7', 12, 11, 3],
        ],
      );
      await truncate(join(dir, 'one.ledger'), RECORD_BYTES + 20);
      const cut = readLedger(dir);
      assert.equal(cut.records.length, 1);
      assert.equal(cut.torn, 1);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

// The three runs share the machine's 2 cores: together they take ~25 s, one after the other
// ~45 s. Timeouts are generous because a loaded machine only makes a run slower, never wrong.
describe(
  'chaos: kills of the server and of worker children lose nothing',
  { concurrency: 3 },
  () => {
    for (const backend of BACKENDS) {
      const skip = missing.get(backend) ?? false;
      it(
        `${backend}: ${TASKS} tasks, >= ${SERVER_KILLS} server kills, >= ${WORKER_KILLS} worker kills`,
        { skip, timeout: 240_000 },
        async (t) => {
          const seed = Math.floor(Math.random() * 2 ** 31);
          const result = await runChaos({
            backend,
            tasks: TASKS,
            serverKills: SERVER_KILLS,
            workerKills: WORKER_KILLS,
            seed,
            leaseSeconds: 5,
            workers: 2,
            processes: 1,
            concurrency: 10,
            producers: 2,
            batch: 50,
            workMs: 20,
            timing: DEFAULT_TIMING,
            drainTimeoutMs: 120_000,
            keep: false,
          });
          t.diagnostic(chaosTable([result]));
          assert.ok(passed(result), `seed ${seed}: ${chaosFailures([result])}`);
          const { check } = result;
          assert.equal(check.inserted, TASKS);
          assert.equal(check.lost.length, 0);
          assert.equal(check.processed, TASKS);
          assert.equal(check.rerunBy.unexplained, 0);
          assert.equal(check.unacknowledged, 0);
          assert.ok(check.serverKills >= SERVER_KILLS, `server kills: ${check.serverKills}`);
          assert.ok(check.workerKills >= WORKER_KILLS, `worker kills: ${check.workerKills}`);
          assert.ok(result.pids.length >= 1 + 2 + 2, `processes started: ${result.pids.length}`);
          assert.deepEqual(result.pids.filter(isAlive), [], 'no process of the run is left');
        },
      );
    }
  },
);
