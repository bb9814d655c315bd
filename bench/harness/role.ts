/**
 * A producer or consumer process of the side-by-side benchmark, spawned by the runner (so its
 * CPU is counted apart and a consumer's crash is not the runner's). The init message comes as
 * the first argument; the rest over IPC (role-protocol.ts).
 */
import { loadContender } from '../contenders/index.ts';
import type { Consumer, Producer } from './contender.ts';
import { runJob, taskBody } from './jobs.ts';
import { Recorder, epochMs } from './recorder.ts';
import type { FromRole, RoleInit, ToRole } from './role-protocol.ts';

function send(message: FromRole): Promise<void> {
  return new Promise((resolve) => {
    if (process.send === undefined || !process.connected) return resolve();
    process.send(message, undefined, {}, () => resolve());
  });
}

async function fail(error: unknown): Promise<never> {
  const message = error instanceof Error ? (error.stack ?? error.message) : String(error);
  await send({ type: 'error', message });
  process.exit(1);
}

async function main(): Promise<void> {
  const init = JSON.parse(process.argv[2] ?? '{}') as RoleInit;
  // The runner decides when this ends; a Ctrl-C reaching the process group must not cut a
  // consumer off before it records and acks what it runs.
  process.on('SIGINT', () => {});
  process.on('disconnect', () => process.exit(1));
  const contender = await loadContender(init.contender);
  let producer: Producer | null = null;
  let consumer: Consumer | null = null;
  let recorder: Recorder | null = null;
  if (init.role === 'producer') producer = await contender.producer(init.config);
  else recorder = new Recorder(init.recordDir);

  const handle = async (message: ToRole): Promise<void> => {
    switch (message.type) {
      case 'go':
        if (producer !== null && message.job !== undefined) {
          await send({ type: 'done', result: await runJob(producer, message.job) });
        } else if (recorder !== null) {
          const records = recorder;
          consumer = await contender.consumer(init.config, {
            handler: (task) => records.record(task),
            concurrency: init.concurrency,
          });
          await send({ type: 'done', result: null });
        }
        return;
      case 'put':
        await producer?.addOne(taskBody(message.id, epochMs()));
        await send({ type: 'put-done' });
        return;
      case 'stop':
        await producer?.close();
        await consumer?.close();
        recorder?.close();
        await send({ type: 'stopped' });
        process.exit(0);
    }
  };
  process.on('message', (message: ToRole) => {
    handle(message).catch(fail);
  });
  await send({ type: 'ready' });
}

await main().catch(fail);
