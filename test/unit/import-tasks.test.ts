import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { describe, it } from 'node:test';
import { MemoryBackend } from '../../src/backends/memory.ts';
import { countLines, importTasks, parseTaskLine } from '../../src/cli/import-tasks.ts';
import { PullqError } from '../../src/protocol/errors.ts';

const text = (payload: Uint8Array): string => Buffer.from(payload).toString();

describe('parseTaskLine', () => {
  const now = 1_000_000;

  it('reads a task spec: text, tag, id and delay', () => {
    const task = parseTaskLine('{"text":"hi","tag":"t","id":"job-1","delaySeconds":2}', now);
    assert.equal(text(task.payload), 'hi');
    assert.deepEqual([task.tag, task.id, task.eta], ['t', 'job-1', now + 2000]);
  });

  it('stores "json" as JSON text and "payload" as decoded base64', () => {
    assert.equal(text(parseTaskLine('{"json":{"a":[1,2]}}', now).payload), '{"a":[1,2]}');
    assert.deepEqual([...parseTaskLine('{"payload":"AAEC"}', now).payload], [0, 1, 2]);
  });

  it('takes any other JSON value, or an object with other keys, as the payload itself', () => {
    assert.equal(
      text(parseTaskLine(' {"to": "x", "text": "y"} ', now).payload),
      '{"to": "x", "text": "y"}',
    );
    assert.equal(text(parseTaskLine('42', now).payload), '42');
    assert.equal(text(parseTaskLine('"plain"', now).payload), '"plain"');
  });

  it('applies the defaults to lines that do not say otherwise', () => {
    const task = parseTaskLine('{"text":"a"}', now, { tag: 'default', delaySeconds: 1 });
    assert.deepEqual([task.tag, task.eta], ['default', now + 1000]);
    assert.equal(parseTaskLine('{"text":"a","tag":"own"}', now, { tag: 'default' }).tag, 'own');
  });

  it('refuses bad JSON, two payload sources, a bad id and a bad delay with invalid_argument', () => {
    for (const line of [
      '{"text": ',
      '{"text":"a","json":1}',
      '{"id":"no spaces"}',
      '{"delaySeconds":-1}',
      '{"payload":"not base64!"}',
      '{"text":5}',
    ]) {
      assert.throws(
        () => parseTaskLine(line, now),
        (error: unknown) => error instanceof PullqError && error.code === 'invalid_argument',
        line,
      );
    }
  });
});

describe('importTasks', () => {
  it('imports good lines in batches, skips blank ones and reports bad ones by line number', async () => {
    const backend = new MemoryBackend();
    const lines = [
      '{"text":"1"}',
      '',
      'oops',
      '{"text":"3","id":"same"}',
      '{"text":"4","id":"same"}',
    ];
    for (let n = 0; n < 7; n += 1) lines.push(JSON.stringify({ text: `more ${n}` }));
    let settled = 0;
    const result = await importTasks(backend, 'q', Readable.from(lines.join('\n')), {
      batchSize: 3,
      onProgress: (count) => (settled += count),
    });
    assert.equal(result.imported, 9);
    assert.deepEqual(
      result.failed.map((failure) => [failure.line, failure.code]),
      [
        [3, 'invalid_argument'],
        [5, 'already_exists'],
      ],
    );
    assert.equal(result.lines, 12);
    assert.equal(settled, 12);
    const page = await backend.list('q', { limit: 100, includePayload: true });
    assert.deepEqual(
      page.tasks.map((task) => text(task.payload)),
      ['1', '3', ...Array.from({ length: 7 }, (_, n) => `more ${n}`)],
      'file order is kept with one batch in flight',
    );
    await backend.close();
  });
});

describe('countLines', () => {
  it('counts a last line without a newline', async () => {
    assert.equal(await countLines(Readable.from([Buffer.from('a\nb\n')])), 2);
    assert.equal(await countLines(Readable.from([Buffer.from('a\nb')])), 2);
    assert.equal(await countLines(Readable.from([])), 0);
  });
});
