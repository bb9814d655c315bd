/**
 * The handler module of the pullq Worker contenders: records each delivery as it starts. It
 * runs in the Worker's child processes, which inherit the record folder from the consumer
 * process's environment (bench/harness/recorder.ts).
 */
import type { WorkerMessage } from '../../src/worker/context.ts';
import type { TaskBody } from '../harness/contender.ts';
import { recorderFromEnvironment, type Recorder } from '../harness/recorder.ts';

let recorder: Recorder | undefined;

export default async function record(message: WorkerMessage<TaskBody>): Promise<void> {
  recorder ??= recorderFromEnvironment();
  recorder.record(message.body);
}
