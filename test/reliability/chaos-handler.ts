/**
 * The chaos test's handler module, loaded by every worker child: it writes `S` to its
 * process's ledger when an attempt starts, works for a random 0 to CHAOS_WORK_MS ms (so that a
 * SIGKILL often lands while attempts run), and writes `D` when the work is done, before the
 * supervisor acks. A task with two `D` records was processed twice.
 *
 * Its settings come from the environment the supervisor's children inherit: CHAOS_LEDGER_DIR
 * (required) and CHAOS_WORK_MS (default 20).
 */
import type { HandlerContext, WorkerMessage } from '../../src/worker/context.ts';
import { LedgerWriter } from './chaos-ledger.ts';

const dir = process.env['CHAOS_LEDGER_DIR'];
if (dir === undefined) throw new Error('chaos-handler needs CHAOS_LEDGER_DIR');
const workMs = Number(process.env['CHAOS_WORK_MS'] ?? 20);
const ledger = new LedgerWriter(dir, `handler-${process.pid}`);

export default async function chaosHandler(
  message: WorkerMessage,
  ctx: HandlerContext,
): Promise<void> {
  const fields = { id: message.id, pid: process.pid, ppid: process.ppid, attempt: ctx.attempt };
  ledger.write('S', fields);
  await new Promise((resolve) => setTimeout(resolve, Math.random() * workMs));
  ledger.write('D', fields);
}
