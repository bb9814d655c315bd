/**
 * `pullq serve` on SQLite when its disk fills up or turns read-only. The data folder sits on a
 * small ext4 file system the test makes: an image file, loop-mounted, made with `-m 0` (no
 * blocks kept back for root, who runs the test) and mounted `errors=remount-ro`, unmounted in
 * `after`.
 *
 * Read-only is made the way it happens to a running server. `mount -o remount,ro` is refused
 * by Linux (EBUSY) while a process holds a file open for writing on the file system, as the
 * server does; what turns a disk read-only under a running process is the kernel after a disk
 * error (`errors=remount-ro`). ext4's `trigger_fs_error` (sysfs) raises such an error. Such a
 * disk cannot be remounted writable: it is unmounted, checked (e2fsck) and mounted again.
 *
 * Needs root, mount, mkfs.ext4 and e2fsck: without them the file fails under CI=true and is
 * skipped otherwise.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import {
  closeSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readdirSync,
  rmSync,
  statfsSync,
  truncateSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, describe, it } from 'node:test';
import { fetch } from 'undici';
import { bearer, startServe, type ServeProcess } from './serve-process.ts';

const DISK_MIB = 16;
const QUEUE = 'jobs';
/** 20 tasks of 4,000 bytes: about 80 KiB per insert, so a 1 MiB gap fills in about 13. */
const BATCH = 20;
const TEXT = 'x'.repeat(4000);

function sh(command: string, args: string[]): { status: number | null; output: string } {
  const result = spawnSync(command, args, { encoding: 'utf8' });
  const output = `${result.stdout ?? ''}${result.stderr ?? ''}${result.error ? String(result.error) : ''}`;
  return { status: result.status, output };
}

function must(command: string, args: string[]): string {
  const { status, output } = sh(command, args);
  if (status !== 0) throw new Error(`${command} ${args.join(' ')} failed (${status}): ${output}`);
  return output;
}

/** Why this machine cannot run the file, or null. */
function missingPrerequisite(): string | null {
  if (process.platform !== 'linux') return 'loop-mounted file systems need Linux';
  if (process.getuid?.() !== 0) return 'mounting a file system needs root';
  for (const tool of ['mkfs.ext4', 'e2fsck']) {
    if (sh(tool, ['-V']).status !== 0) return `${tool} cannot be run (install e2fsprogs)`;
  }
  const probe = mkdtempSync(join(tmpdir(), 'pullq-mount-probe-'));
  try {
    const mounted = sh('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'tmpfs', probe]);
    if (mounted.status !== 0) return `mount is not permitted here: ${mounted.output.trim()}`;
    must('umount', [probe]);
    return null;
  } finally {
    rmSync(probe, { recursive: true, force: true });
  }
}

const missing = missingPrerequisite();
if (missing !== null && process.env['CI'] === 'true') throw new Error(missing);

/** A small ext4 file system in an image file, mounted on `dir`. */
class LoopDisk {
  readonly #root = mkdtempSync(join(tmpdir(), 'pullq-disk-'));
  readonly image = join(this.#root, 'disk.img');
  readonly dir = join(this.#root, 'mnt');
  readonly filler = join(this.dir, 'filler');

  constructor() {
    mkdirSync(this.dir);
    writeFileSync(this.image, '');
    truncateSync(this.image, DISK_MIB * 1024 * 1024);
    must('mkfs.ext4', ['-q', '-F', '-m', '0', this.image]);
    this.mount();
  }

  mount(): void {
    must('mount', ['-o', 'loop,errors=remount-ro', this.image, this.dir]);
  }

  freeBytes(): number {
    const stats = statfsSync(this.dir);
    return stats.bavail * stats.bsize;
  }

  /** Writes a filler file that leaves about `leave` bytes free (0: until ENOSPC). */
  fill(leave: number): void {
    const fd = openSync(this.filler, 'a');
    try {
      for (const size of [1024 * 1024, 64 * 1024, 1024]) {
        const chunk = Buffer.alloc(size, 1);
        while (this.freeBytes() - size >= leave) {
          try {
            writeSync(fd, chunk);
          } catch (error) {
            if ((error as { code?: unknown }).code !== 'ENOSPC') throw error;
            break;
          }
        }
      }
    } finally {
      closeSync(fd);
    }
    must('sync', ['-f', this.dir]);
  }

  removeFiller(): void {
    rmSync(this.filler, { force: true });
    must('sync', ['-f', this.dir]);
  }

  /** Raises an ext4 error: with errors=remount-ro the kernel makes the disk read-only. */
  breakDisk(): void {
    const device = basename(must('findmnt', ['-no', 'SOURCE', this.dir]).trim());
    writeFileSync(`/sys/fs/ext4/${device}/trigger_fs_error`, 'pullq disk-faults test');
  }

  /** Unmounts; retries a few times, as a request may hold the file for a millisecond. */
  async unmount(): Promise<void> {
    let last = '';
    for (let attempt = 0; attempt < 20; attempt += 1) {
      const result = sh('umount', [this.dir]);
      if (result.status === 0) return;
      last = result.output;
      await sleep(100);
    }
    throw new Error(`cannot unmount ${this.dir}: ${last}`);
  }

  /** e2fsck -fy: 0 (clean) or 1 (errors fixed) are both a repaired file system. */
  check(): void {
    const { status, output } = sh('e2fsck', ['-fy', this.image]);
    assert.ok(status === 0 || status === 1, `e2fsck ended with ${status}: ${output}`);
  }

  destroy(): void {
    if (sh('umount', [this.dir]).status !== 0) sh('umount', ['-l', this.dir]);
    rmSync(this.#root, { recursive: true, force: true });
  }
}

interface Answer {
  status: number;
  body: {
    error?: { code: string; message: string; retryable: boolean; details?: { fault?: string } };
    results?: { ok: boolean }[];
    tasks?: { id: string; leaseToken?: string }[];
    nextCursor?: string | null;
    ready?: number;
    leased?: number;
    delayed?: number;
    dead?: number;
  };
}

/** Task ids are t1, t2... across the file, so a second server's client picks up after the first. */
let lastId = 0;

/** A client of one server, keeping the ids of the inserts answered 2xx. */
class Client {
  readonly #server: ServeProcess;
  /** The ids the store must hold: inserted with a 2xx, not acked with a 2xx. */
  readonly stored: Set<string>;

  constructor(server: ServeProcess, stored = new Set<string>()) {
    this.#server = server;
    this.stored = stored;
  }

  async call(method: string, path: string, body?: unknown): Promise<Answer> {
    const response = await fetch(`${this.#server.url}${path}`, {
      method,
      headers: {
        ...bearer(),
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    return { status: response.status, body: (await response.json()) as Answer['body'] };
  }

  /** Inserts `count` named tasks; on a 2xx each must be ok and is remembered. */
  async insert(count = BATCH): Promise<Answer> {
    const ids = Array.from({ length: count }, () => `t${(lastId += 1)}`);
    const answer = await this.call('POST', `/v1/queues/${QUEUE}/tasks`, {
      tasks: ids.map((id) => ({ id, text: TEXT })),
    });
    if (answer.status === 200) {
      assert.ok(answer.body.results?.every((result) => result.ok));
      for (const id of ids) this.stored.add(id);
    }
    return answer;
  }

  async lease(max: number): Promise<Answer> {
    return this.call('POST', `/v1/queues/${QUEUE}/lease`, { max, leaseSeconds: 600 });
  }

  /** Acks; on a 2xx the task is no longer expected in the store. */
  async ack(task: { id: string; leaseToken?: string }): Promise<Answer> {
    const answer = await this.call('POST', `/v1/queues/${QUEUE}/ack`, {
      leases: [{ id: task.id, token: task.leaseToken }],
    });
    if (answer.status === 200 && answer.body.results?.[0]?.ok) this.stored.delete(task.id);
    return answer;
  }

  /** Every id in the queue, whatever its state. */
  async listIds(): Promise<Set<string>> {
    const ids = new Set<string>();
    let cursor: string | null | undefined = null;
    do {
      const query = `limit=1000${cursor ? `&cursor=${cursor}` : ''}`;
      const page = await this.call('GET', `/v1/queues/${QUEUE}/tasks?${query}`);
      assert.equal(page.status, 200, JSON.stringify(page.body));
      for (const task of page.body.tasks ?? []) ids.add(task.id);
      cursor = page.body.nextCursor;
    } while (cursor);
    return ids;
  }

  /** The store holds exactly the tasks answered 2xx and not acked, and its stats agree. */
  async assertStoreMatches(): Promise<void> {
    assert.deepEqual([...(await this.listIds())].sort(), [...this.stored].sort());
    const stats = await this.call('GET', `/v1/queues/${QUEUE}/stats`);
    assert.equal(stats.status, 200);
    const { ready = 0, leased = 0, delayed = 0, dead = 0 } = stats.body;
    assert.equal(ready + leased + delayed + dead, this.stored.size);
  }
}

/** A 503 `unavailable`, retryable, of the given fault, whose message matches `words`. */
function assertFault(answer: Answer, fault: string, words: RegExp): void {
  const error = answer.body.error;
  assert.equal(answer.status, 503, JSON.stringify(answer.body));
  assert.equal(error?.code, 'unavailable');
  assert.equal(error.retryable, true);
  assert.equal(error.details?.fault, fault);
  assert.match(error.message, words);
}

/** What `startServe` says when the server exits before listening (it must). */
async function startFailure(args: string[]): Promise<string> {
  let server: ServeProcess;
  try {
    server = await startServe(args);
  } catch (error) {
    return (error as Error).message;
  }
  await server.stop('SIGKILL');
  assert.fail('pullq serve started');
}

function integrityCheck(dbPath: string): string {
  const db = new DatabaseSync(dbPath, { readOnly: true });
  try {
    return (db.prepare('PRAGMA integrity_check').get() as { integrity_check: string })
      .integrity_check;
  } finally {
    db.close();
  }
}

describe('pullq serve: disk faults', { skip: missing ?? false }, () => {
  const cleanups: (() => unknown)[] = [];
  after(async () => {
    for (const cleanup of cleanups.reverse()) await cleanup();
  });

  const newDisk = (): LoopDisk => {
    const disk = new LoopDisk();
    cleanups.push(() => disk.destroy());
    return disk;
  };
  const serve = async (args: string[]): Promise<ServeProcess> => {
    const server = await startServe(args);
    cleanups.push(() => server.stop('SIGKILL'));
    return server;
  };
  const alive = async (server: ServeProcess, client: Client): Promise<void> => {
    assert.equal(server.child.exitCode, null, 'the server is still running');
    assert.equal((await client.call('GET', '/healthz')).status, 200);
  };

  it('a full disk fails inserts with a retryable disk_full 503, keeps every 2xx, and writes again once space is freed', async (t) => {
    const disk = newDisk();
    const data = join(disk.dir, 'data');
    const server = await serve(['--data', data]);
    const client = new Client(server);
    assert.equal((await client.insert()).status, 200);
    const leased = (await client.lease(3)).body.tasks ?? [];
    assert.equal(leased.length, 3);

    disk.fill(1024 * 1024);
    let full: Answer | null = null;
    for (let n = 0; n < 200 && full === null; n += 1) {
      const answer = await client.insert();
      if (answer.status !== 200) full = answer;
    }
    assert.ok(full, 'the disk filled up');
    assertFault(full, 'disk_full', /the disk is full \(.*\): free space on it; writes resume/);
    // Later inserts fail the same way (a small one may still fit in what a failed one left).
    for (let n = 0; n < 3; n += 1) {
      const answer = await client.insert(n === 0 ? BATCH : 1);
      if (answer.status !== 200) assertFault(answer, 'disk_full', /disk is full/);
    }

    // Reads go on; leases and acks write, and fail like inserts when nothing fits.
    await alive(server, client);
    await client.assertStoreMatches();
    const lease = await client.lease(1);
    if (lease.status !== 200) assertFault(lease, 'disk_full', /disk is full/);
    const ack = await client.ack(leased[0]!);
    if (ack.status !== 200) assertFault(ack, 'disk_full', /disk is full/);
    t.diagnostic(`on the full disk: lease answered ${lease.status}, ack ${ack.status}`);

    disk.removeFiller();
    assert.equal((await client.insert()).status, 200, 'inserts succeed once space is freed');
    for (const task of leased.slice(1)) assert.equal((await client.ack(task)).status, 200);
    await client.assertStoreMatches();
    await alive(server, client);

    assert.equal(await server.stop('SIGTERM'), 0);
    assert.equal(integrityCheck(join(data, 'pullq.db')), 'ok');

    // Started on a disk with no space left, the server stops at once and says why.
    disk.fill(0);
    const refused = await startFailure(['--data', data]);
    assert.match(refused, /exited \(1\) before listening/);
    assert.match(refused, /the disk is full \(.*\): free space on it, then try again/);
    assert.match(refused, /hint: the store cannot be used as it is: do what the message says/);
    assert.doesNotMatch(refused, /\n\s+at /, 'no stack trace');
    disk.removeFiller();
    const again = await serve(['--data', data]);
    await new Client(again, client.stored).assertStoreMatches();
  });

  it('a disk turned read-only fails inserts, leases and acks with a retryable read_only 503, serves reads, and writes again once repaired and mounted, without a restart', async () => {
    const disk = newDisk();
    const data = join(disk.dir, 'data');
    // FULL: each 2xx is on the disk itself before it is answered. With NORMAL it may still be
    // in the page cache, which a disk error discards.
    const server = await serve(['--data', data, '--synchronous', 'FULL']);
    const client = new Client(server);
    for (let n = 0; n < 3; n += 1) assert.equal((await client.insert()).status, 200);
    const leased = (await client.lease(2)).body.tasks ?? [];
    assert.equal(leased.length, 2);

    disk.breakDisk();
    assert.throws(() => closeSync(openSync(join(data, 'pullq.db'), 'r+')), { code: 'EROFS' });
    const readOnly = /the database is read-only .*: make it writable .*without a restart/;
    assertFault(await client.insert(), 'read_only', readOnly);
    assertFault(await client.ack(leased[0]!), 'read_only', readOnly);
    assertFault(await client.lease(1), 'read_only', readOnly);
    await alive(server, client);
    await client.assertStoreMatches();

    // The server holds no file of the broken disk between requests: it can be unmounted.
    await disk.unmount();
    assertFault(await client.insert(), 'missing_file', /is the disk of its folder mounted\?/);
    assert.deepEqual(readdirSync(disk.dir), [], 'no database was made on the bare mount point');
    disk.check();
    disk.mount();

    assert.equal((await client.insert()).status, 200, 'writes work again at once');
    for (const task of leased) assert.equal((await client.ack(task)).status, 200);
    await client.assertStoreMatches();
    await alive(server, client);
    assert.equal(await server.stop('SIGTERM'), 0);
    assert.equal(integrityCheck(join(data, 'pullq.db')), 'ok');

    // Started on a read-only disk, the server stops at once and says why.
    must('mount', ['-o', 'remount,ro', disk.dir]);
    const refused = await startFailure(['--data', data]);
    assert.match(refused, /exited \(1\) before listening/);
    assert.match(refused, /the database is read-only .*: make it writable .*then try again/);
    assert.match(refused, /hint: the store cannot be used as it is: do what the message says/);
    assert.doesNotMatch(refused, /\n\s+at /, 'no stack trace');
    must('mount', ['-o', 'remount,rw', disk.dir]);
    const again = await serve(['--data', data]);
    const later = new Client(again, client.stored);
    assert.equal((await later.insert()).status, 200);
    await later.assertStoreMatches();
  });

  it('after a COMMIT or a WAL checkpoint fails with SQLITE_FULL, the connection begins, commits and checkpoints again once space is freed', () => {
    const disk = newDisk();
    const db = new DatabaseSync(join(disk.dir, 'raw.db'));
    cleanups.push(() => db.isOpen && db.close());
    db.exec('PRAGMA journal_mode = WAL');
    db.exec('PRAGMA wal_autocheckpoint = 0');
    db.exec('CREATE TABLE t (x BLOB)');
    const insert = db.prepare('INSERT INTO t VALUES (?)');
    // 2 MiB in the WAL and not in the database file: a checkpoint must grow that file.
    for (let n = 0; n < 20; n += 1) insert.run(Buffer.alloc(100_000));
    disk.fill(0);
    const full = { errcode: 13 }; // SQLITE_FULL

    assert.throws(() => db.exec('PRAGMA wal_checkpoint(TRUNCATE)'), full);
    db.exec('BEGIN IMMEDIATE');
    insert.run(Buffer.alloc(500_000)); // fits in the page cache: the COMMIT writes it
    assert.throws(() => db.exec('COMMIT'), full);
    assert.equal(db.isTransaction, false, 'SQLite rolled the transaction back itself');
    db.exec('BEGIN IMMEDIATE');
    db.exec('ROLLBACK');

    disk.removeFiller();
    db.exec('BEGIN IMMEDIATE');
    insert.run(Buffer.alloc(500_000));
    db.exec('COMMIT');
    const checkpoint = db.prepare('PRAGMA wal_checkpoint(TRUNCATE)').get() as { busy: number };
    assert.equal(checkpoint.busy, 0);
    assert.deepEqual({ ...db.prepare('SELECT count(*) AS n FROM t').get() }, { n: 21 });
    assert.deepEqual({ ...db.prepare('PRAGMA integrity_check').get() }, { integrity_check: 'ok' });
    db.close();
    assert.ok(existsSync(join(disk.dir, 'raw.db')));
  });
});
