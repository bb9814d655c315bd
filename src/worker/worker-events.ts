/**
 * The events a Worker emits and the shapes of its stats() and stop() report.
 */

export interface StopReport {
  /** Running handlers were aborted (second signal, `force`, or the grace period ran out). */
  forced: boolean;
  /** Leased but not started: given back at once. */
  releasedBuffered: string[];
  /** Running when the stop was forced: aborted and given back. */
  releasedRunning: string[];
}

export interface WorkerStats {
  /** Handlers that returned. */
  processed: number;
  /** Attempts that threw (or timed out). */
  failed: number;
  /** Failed attempts released for another try. */
  retried: number;
  /** Failed attempts dead-lettered. */
  dead: number;
  /** Tasks given back unprocessed (shutdown; a child died while stopping or too often). */
  released: number;
  /**
   * Tasks of a dead child handed to another child under the same lease (same attempt number:
   * the server counted no new lease).
   */
  redelivered: number;
  /** Settles or renewals that found the lease gone. */
  leaseLost: number;
  /** Leases extended by the lease keeper. */
  renewals: number;
  inFlight: number;
  buffered: number;
  /** The children's process ids. */
  pids: number[];
}

export interface WorkerEvents {
  /** `durationMs`: from handing the task to its child to the child's report. */
  processed: [{ id: string; attempts: number; pid: number; acked: boolean; durationMs: number }];
  failed: [{ id: string; attempts: number; pid: number; error: string; durationMs: number }];
  retried: [{ id: string; attempts: number; delayMs: number }];
  dead: [{ id: string; attempts: number; error: string }];
  renewed: [{ count: number }];
  'lease-lost': [{ id: string }];
  'child-start': [{ pid: number }];
  'child-exit': [
    {
      pid: number;
      code: number | null;
      signal: NodeJS.Signals | null;
      expected: boolean;
      /** Tasks it was running: redelivered at once (released when stopping). */
      tasks: string[];
    },
  ];
  /** A dead child's task went to the front of the buffer; `crashes` counts its dead children. */
  redelivered: [{ id: string; pid: number; crashes: number }];
  stopped: [StopReport];
}
