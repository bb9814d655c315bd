/**
 * Found by the chaos test: a lease renewal slow to answer (there: retried through a server
 * restart) that answered after its task was acked made the worker count `leaseLost`, emit
 * `lease-lost` and log "lease lost while held" for a task it had settled, whose ack
 * succeeded. Nothing was lost or run twice; the count, the event and the warning were wrong.
 *
 * Here the renewal is held back 2.5 s by a memory backend: lease 3 s (the keeper ticks every
 * 1 s and renews a lease with less than 2 s left), a handler of 2.5 s. The renewal goes out at
 * ~2 s, the ack lands at ~2.5 s, the renewal answers task_not_found at ~4.5 s.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { it } from 'node:test';
import type { ItemResult, LeaseRef, Task } from '../../src/backends/backend.ts';
import { MemoryBackend } from '../../src/backends/memory.ts';
import { Connection } from '../../src/client/connection.ts';
import { Worker } from '../../src/worker/worker.ts';

const RECORD_HANDLER = fileURLToPath(new URL('./fixtures/record.ts', import.meta.url));

/** Renewals reach the store 2.5 s after they are asked for; everything else at once. */
class SlowRenewals extends MemoryBackend {
  override async extend(
    queue: string,
    refs: LeaseRef[],
    leaseSeconds: number,
  ): Promise<ItemResult<Task>[]> {
    await new Promise((resolve) => setTimeout(resolve, 2500));
    return super.extend(queue, refs, leaseSeconds);
  }
}

it(
  'a renewal that answers after the ack does not report the acked task lease_lost',
  { timeout: 30_000 },
  async () => {
    const dir = await mkdtemp(join(tmpdir(), 'pullq-lease-after-ack-'));
    const backend = new SlowRenewals();
    const connection = new Connection({ backend });
    const worker = new Worker({
      connection,
      queue: 'slow',
      handler: RECORD_HANDLER,
      processes: 1,
      concurrency: 1,
      leaseSeconds: 3,
      logLevel: 'silent',
    });
    try {
      const lost: string[] = [];
      const acked: boolean[] = [];
      worker.on('lease-lost', ({ id }) => lost.push(id));
      worker.on('processed', (event) => acked.push(event.acked));
      await connection.simpleQueue('slow').put({ out: join(dir, 'out.log'), sleepMs: 2500 });
      await worker.start();
      // The handler ends at ~2.5 s, the held-back renewal answers at ~4.5 s.
      await new Promise((resolve) => setTimeout(resolve, 6000));
      assert.deepEqual(acked, [true], 'the task was processed once and its ack succeeded');
      assert.equal((await backend.stats('slow')).leased, 0);
      assert.deepEqual(lost, [], 'no lease-lost event for the acked task');
      assert.equal(worker.stats().leaseLost, 0);
    } finally {
      await worker.stop();
      await connection.close();
      await backend.close();
      await rm(dir, { recursive: true, force: true });
    }
  },
);
