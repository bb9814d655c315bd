/**
 * What this process holds of each queue: the leases (unacknowledged deliveries) of every amqp
 * backend in the process, and when they were taken. AMQP reports a queue's ready messages only;
 * the deliveries consumers hold are invisible to other clients. So `stats().leased` counts the
 * leases held in this process, by any of its connections to the same broker and vhost, and
 * leases held by other processes are not counted (the stats are declared inexact).
 */

const HOUR_MS = 3_600_000;

export class QueueLedger {
  /** Leases held now. */
  held = 0;
  /** When leases were taken (ms, the backend's clock), the last hour's. */
  readonly #leaseTimes: number[] = [];

  leased(now: number): void {
    this.held += 1;
    this.#leaseTimes.push(now);
    this.#prune(now);
  }

  released(): void {
    this.held = Math.max(0, this.held - 1);
  }

  leasedSince(since: number, now: number): number {
    this.#prune(now);
    let count = 0;
    for (const at of this.#leaseTimes) if (at >= since) count += 1;
    return count;
  }

  #prune(now: number): void {
    const cutoff = now - HOUR_MS;
    let drop = 0;
    while (drop < this.#leaseTimes.length && (this.#leaseTimes[drop] ?? 0) < cutoff) drop += 1;
    if (drop > 0) this.#leaseTimes.splice(0, drop);
  }
}

const ledgers = new Map<string, QueueLedger>();

/** `broker` names the broker and vhost (`host:port/vhost`), so two brokers never mix. */
export function ledgerFor(broker: string, queue: string): QueueLedger {
  const key = `${broker} ${queue}`;
  let ledger = ledgers.get(key);
  if (ledger === undefined) {
    ledger = new QueueLedger();
    ledgers.set(key, ledger);
  }
  return ledger;
}

/** Drops a deleted queue's ledger (its leases went with it). */
export function forgetLedger(broker: string, queue: string): void {
  ledgers.delete(`${broker} ${queue}`);
}
