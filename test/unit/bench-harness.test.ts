/**
 * The pure parts of the side-by-side benchmark harness (bench/harness/): statistics, the
 * exactly-once check, delivery records across files, the summary and its tables, the docs
 * section replacement, and /proc stat parsing.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { appendFileSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { chartSvg } from '../../bench/harness/chart.ts';
import { CpuMeter, cpuDifference, parseStat } from '../../bench/harness/cpu.ts';
import { END_MARKER, START_MARKER, replaceSection } from '../../bench/harness/docs.ts';
import { DeliveryCounts, checkExactlyOnce } from '../../bench/harness/exactly-once.ts';
import { taskBody } from '../../bench/harness/jobs.ts';
import { parseOptions } from '../../bench/harness/options.ts';
import { NO_ID, RECORD_BYTES, RecordReader, Recorder } from '../../bench/harness/recorder.ts';
import type { RunResult } from '../../bench/harness/result.ts';
import { latencySummary, median, quantile, spread } from '../../bench/harness/stats.ts';
import {
  latencyTable,
  markdownTable,
  summarize,
  throughputTable,
  type CellInfo,
} from '../../bench/harness/summary.ts';

describe('bench statistics', () => {
  it('a quantile is the nearest-rank sample, one some task really had', () => {
    const sorted = Float64Array.from({ length: 100 }, (_, index) => index + 1);
    assert.equal(quantile(sorted, 0.5), 50);
    assert.equal(quantile(sorted, 0.99), 99);
    assert.equal(quantile(sorted, 1), 100);
    assert.equal(quantile([7], 0.99), 7);
    assert.ok(Number.isNaN(quantile([], 0.5)));
  });

  it('the median of an even count is the mean of the middle two; input order does not matter', () => {
    assert.equal(median([4, 1, 3, 2]), 2.5);
    assert.equal(median([5, 1, 3]), 3);
  });

  it('spread leaves out runs without a figure and gives null when none has one', () => {
    assert.deepEqual(spread([30, null, 10, 20, Number.NaN]), {
      median: 20,
      min: 10,
      max: 30,
      runs: 3,
    });
    assert.equal(spread([null, null]), null);
  });

  it('latency summary sorts the samples and reports p50, p99, max and mean', () => {
    const samples = Float64Array.from({ length: 1000 }, (_, index) => 1000 - index);
    const summary = latencySummary(samples);
    assert.ok(summary !== null);
    assert.equal(summary.count, 1000);
    assert.equal(summary.p50, 500);
    assert.equal(summary.p99, 990);
    assert.equal(summary.p999, 999);
    assert.equal(summary.max, 1000);
    assert.equal(summary.mean, 500.5);
    assert.equal(latencySummary(new Float64Array(0)), null);
  });
});

describe('bench exactly-once check', () => {
  it('every task delivered once: valid, nothing missing or duplicated', () => {
    const check = checkExactlyOnce([2, 0, 1], 3);
    assert.deepEqual(check, {
      expected: 3,
      deliveries: 3,
      distinct: 3,
      missing: 0,
      duplicates: 0,
      unexpected: 0,
      valid: true,
    });
  });

  it('a missing task makes the run invalid', () => {
    const check = checkExactlyOnce([0, 2], 3);
    assert.equal(check.missing, 1);
    assert.equal(check.valid, false);
  });

  it('duplicates are counted per extra delivery and do not invalidate a complete run', () => {
    const check = checkExactlyOnce([0, 1, 1, 1, 2], 3);
    assert.equal(check.duplicates, 2);
    assert.equal(check.distinct, 3);
    assert.equal(check.valid, true);
  });

  it('an id the run never sent makes it invalid', () => {
    const check = checkExactlyOnce([0, 1, 2, 3, NO_ID], 3);
    assert.equal(check.unexpected, 2);
    assert.equal(check.valid, false);
  });

  it('counts as records arrive: a first delivery is told apart from a repeat', () => {
    const counts = new DeliveryCounts(2);
    assert.equal(counts.add(1), true);
    assert.equal(counts.add(1), false);
    assert.equal(counts.has(0), false);
    assert.equal(counts.complete, false);
    counts.add(0);
    assert.equal(counts.complete, true);
  });
});

describe('bench delivery records', () => {
  const dir = mkdtempSync(join(tmpdir(), 'pullq-bench-records-test-'));
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('records written by several recorders are all read back with their id and t0', () => {
    const first = new Recorder(dir);
    const second = new Recorder(dir);
    for (let id = 0; id < 600; id += 1)
      (id % 2 === 0 ? first : second).record(taskBody(id, 1000 + id));
    first.close();
    second.close();
    const reader = new RecordReader(dir);
    assert.equal(reader.poll(), 600);
    const ids = Array.from({ length: reader.length }, (_, index) => reader.id(index));
    assert.deepEqual(checkExactlyOnce(ids, 600).valid, true);
    for (let index = 0; index < reader.length; index += 1) {
      assert.equal(reader.t0(index), 1000 + reader.id(index));
      assert.ok(reader.start(index) > 1_600_000_000_000, 'the start is epoch milliseconds');
    }
    assert.equal(reader.poll(), 0, 'nothing new');
    reader.close();
  });

  it('a half-written record is read once it is whole', () => {
    const sub = mkdtempSync(join(dir, 'partial-'));
    const recorder = new Recorder(sub);
    recorder.record(taskBody(7, 1));
    recorder.close();
    const file = join(sub, readdirSync(sub)[0] as string);
    const reader = new RecordReader(sub);
    const next = Buffer.alloc(RECORD_BYTES);
    next.writeUInt32LE(8, 0);
    appendFileSync(file, next.subarray(0, 10));
    assert.equal(reader.poll(), 1);
    appendFileSync(file, next.subarray(10));
    assert.equal(reader.poll(), 1);
    assert.deepEqual([reader.id(0), reader.id(1)], [7, 8]);
    reader.close();
  });

  it('a body without a usable id is recorded as NO_ID, which the check counts as unexpected', () => {
    const sub = mkdtempSync(join(dir, 'bad-'));
    const recorder = new Recorder(sub);
    recorder.record({ id: -1, t0: 0, pad: '' });
    recorder.record({ id: 1.5, t0: 0, pad: '' });
    recorder.close();
    const reader = new RecordReader(sub);
    reader.poll();
    assert.deepEqual([reader.id(0), reader.id(1)], [NO_ID, NO_ID]);
    reader.close();
  });

  it('a task body is about 100 bytes of JSON', () => {
    const length = JSON.stringify(taskBody(99_999, 1_763_712_345_678.123)).length;
    assert.ok(length >= 90 && length <= 110, `${length} bytes`);
  });
});

function run(
  partial: Partial<RunResult> & Pick<RunResult, 'cell' | 'contender' | 'system'>,
): RunResult {
  return {
    kind: 'run',
    scenario: 'drain',
    repetition: 1,
    warmup: false,
    consumers: 1,
    concurrency: 100,
    tasks: 100,
    seconds: 1,
    perSecond: null,
    offeredPerSecond: null,
    latencyMs: null,
    sendLagMaxMs: null,
    cpuSeconds: null,
    cpuPer1k: null,
    check: checkExactlyOnce(
      Array.from({ length: 100 }, (_, index) => index),
      100,
    ),
    valid: true,
    timeLimited: false,
    error: null,
    startedAt: '2026-11-21T00:00:00.000Z',
    ...partial,
  };
}

function latency(p99: number): RunResult['latencyMs'] {
  return { count: 100, p50: p99 / 2, p90: p99, p99, p999: p99, max: p99 * 2, mean: p99 / 2 };
}

describe('bench summary', () => {
  const drain: CellInfo = { name: 'drain-1p', label: 'drain', latency: false };
  const pickup: CellInfo = { name: 'pickup', label: 'pickup', latency: true };
  const results: RunResult[] = [
    run({
      cell: 'drain-1p',
      contender: 'pullq-sqlite',
      system: 'pullq',
      perSecond: 9000,
      warmup: true,
    }),
    run({
      cell: 'drain-1p',
      contender: 'pullq-sqlite',
      system: 'pullq',
      perSecond: 12000,
      cpuPer1k: 0.1,
    }),
    run({
      cell: 'drain-1p',
      contender: 'pullq-sqlite',
      system: 'pullq',
      perSecond: 10000,
      cpuPer1k: 0.3,
    }),
    run({
      cell: 'drain-1p',
      contender: 'pullq-sqlite',
      system: 'pullq',
      perSecond: 50000,
      valid: false,
      check: checkExactlyOnce([0], 100),
    }),
    run({ cell: 'drain-1p', contender: 'bullmq', system: 'BullMQ', perSecond: 8000 }),
    run({ cell: 'drain-1p', contender: 'pg-boss', system: 'pg-boss', perSecond: 4000 }),
    run({ cell: 'pickup', contender: 'pullq-sqlite', system: 'pullq', latencyMs: latency(4) }),
    run({ cell: 'pickup', contender: 'bullmq', system: 'BullMQ', latencyMs: latency(2) }),
    run({ cell: 'pickup', contender: 'pg-boss', system: 'pg-boss', latencyMs: latency(50) }),
  ];
  const rows = summarize(results, [drain, pickup], ['pullq-sqlite', 'bullmq', 'pg-boss']);

  it('medians come from the valid measured runs only: warm-ups and invalid runs are left out', () => {
    const pullq = rows.find(
      (row) => row.cell.name === 'drain-1p' && row.contender === 'pullq-sqlite',
    );
    assert.ok(pullq !== undefined);
    assert.deepEqual(pullq.rate, { median: 11000, min: 10000, max: 12000, runs: 2 });
    assert.equal(pullq.runs, 3);
    assert.equal(pullq.validRuns, 2);
    assert.equal(pullq.missing, 99);
  });

  it('a rate is compared with the fastest peer, a latency with the quickest', () => {
    const ratio = (cell: string, contender: string): number | null =>
      rows.find((row) => row.cell.name === cell && row.contender === contender)?.vsBestPeer ?? null;
    assert.equal(ratio('drain-1p', 'pullq-sqlite'), 11000 / 8000);
    assert.equal(ratio('drain-1p', 'bullmq'), 1);
    assert.equal(ratio('drain-1p', 'pg-boss'), 0.5);
    assert.equal(ratio('pickup', 'pullq-sqlite'), 2);
    assert.equal(ratio('pickup', 'pg-boss'), 25);
  });

  it('a run the time limit ended is invalid, its unreached tasks not called missing, its rate noted', () => {
    const limited = run({
      cell: 'drain-1p',
      contender: 'pg-boss-defaults',
      system: 'pg-boss',
      perSecond: 51,
      valid: false,
      timeLimited: true,
      check: checkExactlyOnce([0, 1], 100),
    });
    const [row] = summarize([limited], [drain], ['pg-boss-defaults']);
    assert.ok(row !== undefined);
    assert.equal(row.rate, null);
    assert.equal(row.missing, 0);
    assert.equal(throughputTable([row]).rows[0]?.[6], '0/1 (time limit, 51/s until then)');
  });

  it('without a peer in the cell there is no ratio', () => {
    const alone = summarize(
      results.filter((result) => result.system === 'pullq'),
      [drain],
      ['pullq-sqlite'],
    );
    assert.equal(alone[0]?.vsBestPeer, null);
  });

  it('the tables put rate cells and latency cells apart, with validity and missing counts', () => {
    const throughput = throughputTable(rows);
    assert.deepEqual(
      throughput.rows.map((row) => row[1]),
      ['pullq-sqlite', 'bullmq', 'pg-boss'],
    );
    assert.deepEqual(throughput.rows[0], [
      'drain-1p',
      'pullq-sqlite',
      '11,000',
      '10,000–12,000',
      '1.38×',
      '0.200',
      '2/3 (99 missing)',
    ]);
    const latencies = latencyTable(rows);
    assert.deepEqual(latencies.rows[1]?.slice(0, 8), [
      'pickup',
      'bullmq',
      '-',
      '1.00',
      '2.00',
      '2.00–2.00',
      '4.00',
      '1.00×',
    ]);
  });

  it('Markdown tables align numeric columns right and escape pipes', () => {
    const text = markdownTable({
      headers: ['A', 'B'],
      rows: [['x|y', '1']],
      align: ['left', 'right'],
    });
    assert.equal(text, '| a | b |\n| --- | ---: |\n| x\\|y | 1 |\n');
  });

  it('the chart has a bar per contender and cell, and escapes names', () => {
    const svg = chartSvg(rows, 'a <test>');
    assert.ok(svg.startsWith('<svg'));
    assert.ok(svg.includes('a &#60;test&#62;'));
    // 2 cells x 3 contenders, the CPU panel of the drain cell (only pullq has a CPU figure
    // there), and 2 legend boxes; the two without one say so.
    assert.equal(svg.match(/<rect x=/g)?.length, 6 + 1 + 2);
    assert.equal(svg.match(/no valid run/g)?.length, 2);
  });
});

describe('bench docs and options', () => {
  it('the side-by-side section is replaced between its markers, the rest kept', () => {
    const document = `# B\n\nbefore\n${START_MARKER}\nold\n${END_MARKER}\nafter\n`;
    const replaced = replaceSection(document, 'new\n');
    assert.equal(replaced, `# B\n\nbefore\n${START_MARKER}\n\nnew\n\n${END_MARKER}\nafter\n`);
    assert.throws(() => replaceSection('# no markers\n', 'new'), /side-by-side/);
  });

  it('--quick runs drain and pickup with small counts and writes no docs', () => {
    const options = parseOptions(['--quick']);
    assert.ok(options !== 'help');
    assert.deepEqual(options.scenarios, ['drain', 'pickup']);
    assert.equal(options.docs, false);
    assert.equal(options.tasks, 20_000);
  });

  it('the full run is every scenario, 5 runs after 1 warm-up, and writes docs unless told not to', () => {
    const options = parseOptions([]);
    assert.ok(options !== 'help');
    assert.deepEqual(options.scenarios, ['enqueue', 'drain', 'pickup', 'load', 'backlog']);
    assert.equal(options.runs, 5);
    assert.equal(options.warmups, 1);
    assert.equal(options.docs, true);
    const quiet = parseOptions(['--no-docs', 'pickup', '--contenders', 'pullq-sqlite, bullmq']);
    assert.ok(quiet !== 'help');
    assert.equal(quiet.docs, false);
    assert.deepEqual(quiet.scenarios, ['pickup']);
    assert.deepEqual(quiet.contenders, ['pullq-sqlite', 'bullmq']);
    assert.throws(() => parseOptions(['nonsense']), /unknown scenario/);
    assert.throws(() => parseOptions(['--runs', '0']), /--runs/);
  });
});

describe('bench CPU accounting', () => {
  it('reads own and children CPU ticks from /proc stat, names with spaces and parentheses too', () => {
    const stat =
      '4242 (postgres: a (b) c) S 17 4242 4242 0 -1 4194560 100 0 0 0 250 50 7 3 20 0 1 0';
    assert.deepEqual(parseStat(stat), {
      pid: 4242,
      ppid: 17,
      name: 'postgres: a (b) c',
      own: 300,
      children: 10,
    });
  });

  it('a child and its own child are counted after they exited, through their parents', () => {
    const meter = new CpuMeter({ serverPids: [], brokerNames: [] });
    const before = meter.sample();
    // The child burns 0.2 s of CPU, and waits for a grandchild that burns 0.2 s more.
    const burn = 'const t=process.cpuUsage();while(process.cpuUsage(t).user<200000){}';
    const child = `${burn};require('child_process').spawnSync(process.execPath,['-e',${JSON.stringify(burn)}])`;
    spawnSync(process.execPath, ['-e', child], { stdio: 'ignore' });
    const used = cpuDifference(meter.sample(), before);
    assert.ok(used.clients >= 0.35, `${used.clients} s counted`);
    assert.ok(used.clients < 5, `${used.clients} s counted`);
    assert.equal(used.server, 0);
    assert.equal(used.broker, 0);
  });

  it('reads this very process', async () => {
    const { readFileSync } = await import('node:fs');
    const stat = parseStat(readFileSync('/proc/self/stat', 'utf8'));
    assert.equal(stat?.pid, process.pid);
    assert.equal(stat?.ppid, process.ppid);
  });
});
