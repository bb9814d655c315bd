/// <reference lib="dom" />
/**
 * The dialogs that change queues: create, edit settings (maxLeases, dead-letter queue, dedup
 * window), and the destructive two, purge and delete, which ask for the queue's name to be
 * typed before their button works.
 */
import type { Api, Queue } from './api.ts';
import { field, h, openDialog, showNotice } from './dom.ts';
import { formatCount } from './format.ts';

const QUEUE_NAME = '[a-zA-Z0-9\\-]{1,100}';

/** An empty field means "none" (null); anything else must be a whole number >= 1. */
function optionalCount(input: HTMLInputElement, name: string): number | null {
  const text = input.value.trim();
  if (text === '') return null;
  const value = Number(text);
  if (!Number.isInteger(value) || value < 1)
    throw new Error(`${name} must be a whole number ≥ 1, or empty`);
  return value;
}

function settingsFields(queue: Partial<Queue>): {
  fields: HTMLElement[];
  read: () => Pick<Queue, 'maxLeases' | 'deadLetterQueue'>;
} {
  const maxLeases = h('input', {
    class: 'input',
    name: 'maxLeases',
    inputmode: 'numeric',
    placeholder: 'unlimited',
    value: queue.maxLeases ?? '',
  });
  const deadLetterQueue = h('input', {
    class: 'input',
    name: 'deadLetterQueue',
    pattern: QUEUE_NAME,
    placeholder: 'none: dead tasks stay here',
    value: queue.deadLetterQueue ?? '',
  });
  return {
    fields: [
      field('Max leases', maxLeases, 'leases a task may have before it is dead-lettered'),
      field('Dead-letter queue', deadLetterQueue, 'where dead-lettered tasks go'),
    ],
    read: () => ({
      maxLeases: optionalCount(maxLeases, 'Max leases'),
      deadLetterQueue: deadLetterQueue.value.trim() === '' ? null : deadLetterQueue.value.trim(),
    }),
  };
}

export function createQueueDialog(api: Api, onCreated: (queue: Queue) => void): void {
  const name = h('input', {
    class: 'input',
    name: 'name',
    required: true,
    pattern: QUEUE_NAME,
    autocomplete: 'off',
    placeholder: 'emails',
  });
  const paused = h('input', { type: 'checkbox', name: 'paused' });
  const settings = settingsFields({});
  openDialog({
    title: 'Create a queue',
    body: [
      field('Name', name, 'a-z, A-Z, 0-9 and -, up to 100'),
      ...settings.fields,
      h('label', { class: 'check' }, paused, ' Start paused'),
    ],
    submitLabel: 'Create',
    canSubmit: () => name.checkValidity(),
    onSubmit: async () => {
      const queue = await api.createQueue({
        name: name.value.trim(),
        ...settings.read(),
        paused: paused.checked,
      });
      showNotice(`Queue ${queue.name} created`);
      onCreated(queue);
    },
  });
  name.focus();
}

export function editQueueDialog(api: Api, queue: Queue, onSaved: () => void): void {
  const settings = settingsFields(queue);
  const dedup = h('input', {
    class: 'input',
    name: 'dedupWindowSeconds',
    inputmode: 'numeric',
    value: queue.dedupWindowSeconds,
  });
  openDialog({
    title: `Settings of ${queue.name}`,
    body: [
      ...settings.fields,
      field('Dedup window (seconds)', dedup, 'how long an acked caller-chosen id stays refused'),
    ],
    submitLabel: 'Save',
    onSubmit: async () => {
      const seconds = Number(dedup.value.trim());
      if (!Number.isInteger(seconds) || seconds < 0) {
        throw new Error('Dedup window must be a whole number of seconds ≥ 0');
      }
      await api.updateQueue(queue.name, { ...settings.read(), dedupWindowSeconds: seconds });
      showNotice(`Settings of ${queue.name} saved`);
      onSaved();
    },
  });
}

/** Asks for the queue's name to be typed, then runs `action`. */
function typedConfirmation(options: {
  queue: string;
  title: string;
  what: string;
  button: string;
  action: () => Promise<void>;
}): void {
  const typed = h('input', {
    class: 'input',
    name: 'confirm',
    autocomplete: 'off',
    spellcheck: 'false',
    'aria-label': `type ${options.queue} to confirm`,
  });
  openDialog({
    title: options.title,
    body: [h('p', {}, options.what), field(`Type ${options.queue} to confirm`, typed)],
    submitLabel: options.button,
    danger: true,
    canSubmit: () => typed.value === options.queue,
    onSubmit: options.action,
  });
  typed.focus();
}

export function purgeQueueDialog(
  api: Api,
  queue: string,
  taskCount: number,
  onDone: () => void,
): void {
  typedConfirmation({
    queue,
    title: `Purge ${queue}?`,
    what: `Every task in ${queue} is deleted: about ${formatCount(taskCount)}, whatever their state, leased ones included. Tombstones stay. This cannot be undone.`,
    button: 'Purge',
    action: async () => {
      const purged = await api.purge(queue);
      showNotice(`${formatCount(purged)} tasks purged from ${queue}`);
      onDone();
    },
  });
}

export function deleteQueueDialog(api: Api, queue: string, onDone: () => void): void {
  typedConfirmation({
    queue,
    title: `Delete ${queue}?`,
    what: `The queue ${queue} and every task in it are deleted. This cannot be undone.`,
    button: 'Delete queue',
    action: async () => {
      await api.deleteQueue(queue);
      showNotice(`Queue ${queue} deleted`);
      onDone();
    },
  });
}
