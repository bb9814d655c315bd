/// <reference lib="dom" />
/**
 * One task, in a dialog: its state, attempts, ETA or lease end, last error, where it was
 * dead-lettered from, and its payload (pretty JSON, text, or a hex dump for bytes). An admin
 * can release a leased task (the worker's lease ends), redrive a dead one, or delete it.
 */
import type { Task } from './api.ts';
import { describeError, h, runAction, showNotice } from './dom.ts';
import {
  decodeBase64,
  formatBytes,
  formatCount,
  formatRelative,
  formatTime,
  viewPayload,
} from './format.ts';
import type { Session } from './session.ts';

export function openTaskDialog(
  session: Session,
  queue: string,
  id: string,
  onChanged: () => Promise<void>,
): void {
  const content = h('div', { class: 'task-detail' }, h('p', { class: 'muted' }, 'Loading…'));
  const dialog = h(
    'dialog',
    { class: 'dialog wide', 'aria-label': `task ${id}` },
    h(
      'div',
      { class: 'dialog-title' },
      h('h2', {}, 'Task ', h('code', {}, id)),
      h(
        'button',
        {
          type: 'button',
          class: 'button ghost',
          'aria-label': 'close',
          onclick: () => dialog.close(),
        },
        '×',
      ),
    ),
    content,
  );
  dialog.addEventListener('close', () => dialog.remove());
  document.body.append(dialog);
  dialog.showModal();

  const done = async (message: string): Promise<void> => {
    showNotice(message);
    dialog.close();
    await onChanged();
  };
  session.api.task(queue, id).then(
    (task) => content.replaceChildren(...details(task), actions(session, task, done)),
    (error: unknown) =>
      content.replaceChildren(h('p', { class: 'dialog-error' }, describeError(error))),
  );
}

function details(task: Task): HTMLElement[] {
  const row = (label: string, value: Node | string, title?: string): HTMLElement[] => [
    h('dt', {}, label),
    h('dd', title === undefined ? {} : { title }, value),
  ];
  const eta =
    task.state === 'leased'
      ? row('Lease ends', formatRelative(task.eta), formatTime(task.eta))
      : task.state === 'dead'
        ? []
        : row(
            task.state === 'delayed' ? 'Leasable' : 'Ready since',
            formatRelative(task.eta),
            formatTime(task.eta),
          );
  const bytes = decodeBase64(task.payload ?? '');
  const payload = viewPayload(bytes);
  return [
    h(
      'dl',
      { class: 'facts' },
      ...row('State', h('span', { class: `badge state-${task.state}` }, task.state)),
      ...row('Queue', task.queue),
      ...row('Tag', task.tag ?? '–'),
      ...row('Attempts', formatCount(task.attempts)),
      ...row('Enqueued', formatRelative(task.enqueuedAt), formatTime(task.enqueuedAt)),
      ...eta,
      ...(task.deadLetteredFrom === null ? [] : row('Dead-lettered from', task.deadLetteredFrom)),
    ),
    task.lastError === null
      ? h('span', {})
      : h(
          'div',
          {},
          h('h3', {}, 'Last error'),
          h('pre', { class: 'pre error-text' }, task.lastError),
        ),
    h(
      'div',
      {},
      h(
        'h3',
        {},
        'Payload ',
        h(
          'span',
          { class: 'muted' },
          `${formatBytes(bytes.length)}, ${payload.kind === 'binary' ? 'bytes (hex)' : payload.kind}`,
        ),
      ),
      h('pre', { class: `pre payload payload-${payload.kind}` }, payload.text),
    ),
  ];
}

function actions(
  session: Session,
  task: Task,
  done: (message: string) => Promise<void>,
): HTMLElement {
  const api = session.api;
  /** With `confirm`, the first click asks (the label changes) and the second acts. */
  const button = (
    label: string,
    kind: string,
    action: () => Promise<void>,
    confirm?: string,
  ): HTMLButtonElement => {
    const element = h('button', { type: 'button', class: kind }, label);
    let armed = confirm === undefined;
    element.addEventListener('click', () => {
      if (!armed && confirm !== undefined) {
        armed = true;
        element.textContent = confirm;
        return;
      }
      runAction(element, action);
    });
    return element;
  };
  return h(
    'div',
    { class: 'dialog-buttons' },
    task.state === 'leased' && session.can('redrive')
      ? button('Release lease', 'button', async () => {
          await api.forceRelease(task.queue, task.id);
          await done(`Task ${task.id} released: it is ready again`);
        })
      : null,
    (task.state === 'dead' || task.deadLetteredFrom !== null) && session.can('redrive')
      ? button('Redrive', 'button primary', async () => {
          const moved = await api.redrive(task.queue, [task.id]);
          await done(
            moved === 1 ? `Task ${task.id} redriven` : `Task ${task.id} was not dead any more`,
          );
        })
      : null,
    session.can('delete')
      ? button(
          'Delete',
          'button danger-outline',
          async () => {
            await api.deleteTask(task.queue, task.id);
            await done(`Task ${task.id} deleted`);
          },
          'Click again to delete',
        )
      : null,
  );
}
