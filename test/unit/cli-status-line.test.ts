/**
 * What a person watching `pullq worker` on a terminal sees: pino records as readable lines,
 * and a status line that log lines scroll above without tearing it.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { humanLogLine } from '../../src/server/log-lines.ts';
import { StatusLine, workerStatus } from '../../src/cli/status-line.ts';
import type { WorkerStats } from '../../src/worker/worker-events.ts';

function stats(changes: Partial<WorkerStats> = {}): WorkerStats {
  return {
    processed: 0,
    failed: 0,
    retried: 0,
    dead: 0,
    released: 0,
    redelivered: 0,
    leaseLost: 0,
    renewals: 0,
    inFlight: 0,
    buffered: 0,
    pids: [11, 12],
    ...changes,
  };
}

describe('humanLogLine', () => {
  it('shows time, level, message and the record’s own fields; drops pid, hostname and name', () => {
    const time = new Date(2026, 10, 21, 9, 5, 7).getTime();
    const line = JSON.stringify({
      level: 40,
      time,
      pid: 1,
      hostname: 'h',
      name: 'pullq-worker',
      msg: 'worker process exited',
      signal: 'SIGKILL',
      tasks: 3,
      note: 'two words',
      err: { type: 'Error', message: 'boom', stack: 'Error: boom\n at x' },
    });
    assert.equal(
      humanLogLine(line),
      '09:05:07 WARN  worker process exited signal=SIGKILL tasks=3 note="two words" err="boom"',
    );
  });

  it('leaves a line that is not a pino record as it is', () => {
    for (const raw of ['plain text from a handler', '{"no":"level"}', '[1,2]', '{broken']) {
      assert.equal(humanLogLine(raw), raw);
    }
  });
});

describe('StatusLine', () => {
  it('on a terminal redraws in place, and a log line clears it, prints, and draws it again', () => {
    let written = '';
    const stream = { isTTY: true, write: (text: string) => (written += text) };
    const line = new StatusLine(stream, () => 'STATUS', 60_000);
    line.log('before start');
    line.start();
    line.log('a log line');
    line.stop();
    assert.equal(written, 'before start\n\r\x1b[Ka log line\nSTATUS\r\x1b[K');
  });

  it('off a terminal prints log lines as they are and nothing else', () => {
    let written = '';
    const line = new StatusLine({ write: (text: string) => (written += text) }, () => 'S', 60_000);
    line.start();
    line.log('one');
    line.stop();
    assert.equal(written, 'one\n');
  });
});

describe('workerStatus', () => {
  it('gives processed per second over the time since the previous line, and every count', () => {
    let now = 0;
    let current = stats({ processed: 100 });
    const render = workerStatus(
      () => current,
      () => now,
    );
    now = 2000;
    current = stats({
      processed: 1100,
      inFlight: 20,
      buffered: 7,
      failed: 3,
      retried: 2,
      dead: 1,
      renewals: 1234,
    });
    assert.equal(
      render(),
      'processed 1,100 (500/s) · in flight 20 · buffered 7 · failed 3 · retried 2 · dead 1 · renewals 1,234 · processes 2',
    );
    now = 3000;
    assert.match(render(), /^processed 1,100 \(0\/s\)/);
  });
});
