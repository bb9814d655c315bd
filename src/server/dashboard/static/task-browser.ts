/// <reference lib="dom" />
/// <reference lib="dom.iterable" />
/**
 * The task browser of a queue page: tasks in insertion order, filtered by state and tag, a
 * page at a time through the API's cursor (`GET /v1/queues/{queue}/tasks`), so a page deep in
 * a queue of millions costs what the first does. The page on screen is read again on every
 * refresh; rows are kept by task id and updated in place, and the selection survives.
 *
 * Selected tasks can be deleted or, when dead (or dead-lettered into this queue), redriven;
 * "Redrive all" redrives every dead letter of the queue.
 */
import type { Stats, Task, TaskState } from './api.ts';
import { h, openDialog, runAction, setAttr, setClass, setText, showNotice } from './dom.ts';
import { formatCount, formatRelative, formatTime } from './format.ts';
import type { Session } from './session.ts';
import { openTaskDialog } from './task-dialog.ts';

const STATES: readonly (TaskState | undefined)[] = [
  undefined,
  'ready',
  'delayed',
  'leased',
  'dead',
];
const PAGE_SIZES = [25, 50, 100, 200];

interface Row {
  tr: HTMLTableRowElement;
  check: HTMLInputElement;
  state: HTMLTableCellElement;
  tag: HTMLTableCellElement;
  attempts: HTMLTableCellElement;
  enqueued: HTMLTableCellElement;
  eta: HTMLTableCellElement;
  lastError: HTMLTableCellElement;
  from: HTMLTableCellElement;
  task: Task;
}

export class TaskBrowser {
  readonly element: HTMLElement;
  readonly #session: Session;
  readonly #queue: string;
  readonly #onChanged: () => Promise<void>;
  readonly #tabs: HTMLButtonElement[];
  readonly #tag: HTMLInputElement;
  readonly #size: HTMLSelectElement;
  readonly #tbody = h('tbody');
  readonly #rows = new Map<string, Row>();
  readonly #selected = new Set<string>();
  readonly #empty = h('p', { class: 'empty hidden' });
  readonly #pageLabel = h('span', { class: 'muted' });
  readonly #prev: HTMLButtonElement;
  readonly #next: HTMLButtonElement;
  readonly #bulk = h('div', { class: 'bulk hidden' });
  readonly #bulkLabel = h('span', {});
  readonly #redriveSelected: HTMLButtonElement | null;
  readonly #redriveAll: HTMLButtonElement | null;
  readonly #all: HTMLInputElement;
  #state: TaskState | undefined;
  /** The cursor of each page up to the one shown (undefined: the first page). */
  #cursors: (string | undefined)[] = [undefined];
  #nextCursor: string | null = null;
  #dead = 0;
  #generation = 0;

  constructor(session: Session, queue: string, onChanged: () => Promise<void>) {
    this.#session = session;
    this.#queue = queue;
    this.#onChanged = onChanged;
    this.#tabs = STATES.map((state) =>
      h(
        'button',
        { type: 'button', class: 'tab', role: 'tab', onclick: () => this.showState(state) },
        h('span', {}, state ?? 'all'),
        h('span', { class: 'tab-count' }),
      ),
    );
    this.#tag = h('input', {
      type: 'search',
      class: 'input',
      placeholder: 'Tag',
      'aria-label': 'only tasks with this tag',
      onchange: () => this.#restart(),
    });
    this.#size = h(
      'select',
      { class: 'input', 'aria-label': 'tasks per page', onchange: () => this.#restart() },
      ...PAGE_SIZES.map((size) =>
        h('option', { value: size, selected: size === 50 }, `${size} a page`),
      ),
    );
    this.#prev = h(
      'button',
      { type: 'button', class: 'button', onclick: () => this.#go(-1) },
      '‹ Previous',
    );
    this.#next = h(
      'button',
      { type: 'button', class: 'button', onclick: () => this.#go(1) },
      'Next ›',
    );
    this.#all = h('input', {
      type: 'checkbox',
      'aria-label': 'select every task on this page',
      onchange: () => {
        for (const row of this.#rows.values()) this.#select(row, this.#all.checked);
        this.#showSelection();
      },
    });
    const can = (action: string): boolean => session.can(action);
    this.#redriveSelected = can('redrive')
      ? h(
          'button',
          { type: 'button', class: 'button', onclick: (e: Event) => this.#redrive(e, true) },
          'Redrive',
        )
      : null;
    this.#redriveAll = can('redrive')
      ? h(
          'button',
          {
            type: 'button',
            class: 'button hidden',
            onclick: (e: Event) => this.#redrive(e, false),
          },
          'Redrive all dead',
        )
      : null;
    this.#bulk.append(
      this.#bulkLabel,
      this.#redriveSelected ?? '',
      can('delete')
        ? h(
            'button',
            {
              type: 'button',
              class: 'button danger-outline',
              onclick: () => this.#deleteSelected(),
            },
            'Delete',
          )
        : '',
      h(
        'button',
        { type: 'button', class: 'button ghost', onclick: () => this.#clearSelection() },
        'Clear',
      ),
    );
    const head = [
      'ID',
      'State',
      'Tag',
      'Attempts',
      'Enqueued',
      'ETA / lease ends',
      'Last error',
      'From',
    ];
    this.element = h(
      'section',
      { class: 'tasks', 'aria-label': 'tasks' },
      h(
        'div',
        { class: 'section-head' },
        h('h2', {}, 'Tasks'),
        h('div', { class: 'tabs', role: 'tablist', 'aria-label': 'state' }, ...this.#tabs),
        h('span', { class: 'spacer' }),
        this.#redriveAll,
        this.#tag,
        this.#size,
      ),
      this.#bulk,
      h(
        'div',
        { class: 'table-wrap card' },
        h(
          'table',
          { class: 'table', id: 'task-table' },
          h(
            'thead',
            {},
            h(
              'tr',
              {},
              h('th', { class: 'check' }, this.#all),
              ...head.map((label, index) =>
                h('th', { scope: 'col', class: index === 3 ? 'num' : '' }, label),
              ),
            ),
          ),
          this.#tbody,
        ),
      ),
      this.#empty,
      h('div', { class: 'pager' }, this.#prev, this.#pageLabel, this.#next),
    );
    this.#showTabs();
  }

  /** Lists the tasks in `state` from the first page. */
  showState(state: TaskState | undefined): void {
    this.#state = state;
    this.#showTabs();
    this.#restart();
  }

  setCounts(stats: Stats): void {
    const counts: Record<string, number> = {
      all: stats.ready + stats.delayed + stats.leased + stats.dead,
      ready: stats.ready,
      delayed: stats.delayed,
      leased: stats.leased,
      dead: stats.dead,
    };
    STATES.forEach((state, index) => {
      const count = this.#tabs[index]?.querySelector('.tab-count');
      if (count) setText(count, formatCount(counts[state ?? 'all'] ?? 0));
    });
    this.#dead = stats.dead;
    if (this.#redriveAll) {
      setText(this.#redriveAll, `Redrive all dead (${formatCount(stats.dead)})`);
      setClass(this.#redriveAll, 'hidden', stats.dead === 0);
    }
  }

  async refresh(): Promise<void> {
    const generation = this.#generation;
    const tag = this.#tag.value.trim();
    const cursor = this.#cursors.at(-1);
    const page = await this.#session.api.tasks(this.#queue, {
      limit: Number(this.#size.value),
      ...(this.#state ? { state: this.#state } : {}),
      ...(tag === '' ? {} : { tag }),
      ...(cursor === undefined ? {} : { cursor }),
    });
    // The filter or the page changed while this page was read: a newer read shows its own.
    if (generation !== this.#generation) return;
    this.#nextCursor = page.nextCursor;
    this.#show(page.tasks);
  }

  dispose(): void {
    this.#rows.clear();
  }

  #restart(): void {
    this.#cursors = [undefined];
    this.#clearSelection();
    this.#reload();
  }

  #go(step: number): void {
    if (step > 0 && this.#nextCursor !== null) this.#cursors.push(this.#nextCursor);
    else if (step < 0 && this.#cursors.length > 1) this.#cursors.pop();
    else return;
    this.#clearSelection();
    this.#reload();
  }

  #reload(): void {
    this.#generation++;
    this.refresh().catch((error: unknown) => {
      setText(this.#empty, String(error instanceof Error ? error.message : error));
      setClass(this.#empty, 'hidden', false);
    });
  }

  #show(tasks: Task[]): void {
    const now = Date.now();
    const seen = new Set<string>();
    const rows = tasks.map((task) => {
      seen.add(task.id);
      const row = this.#rows.get(task.id) ?? this.#newRow(task);
      row.task = task;
      this.#fill(row, now);
      return row;
    });
    for (const [id, row] of this.#rows) {
      if (!seen.has(id)) {
        this.#rows.delete(id);
        this.#selected.delete(id);
        row.tr.remove();
      }
    }
    const current = [...this.#tbody.children];
    if (current.length !== rows.length || rows.some((row, index) => current[index] !== row.tr)) {
      this.#tbody.replaceChildren(...rows.map((row) => row.tr));
    }
    const what = this.#state ? `${this.#state} tasks` : 'tasks';
    setText(this.#empty, this.#cursors.length > 1 ? `No more ${what}.` : `No ${what}.`);
    setClass(this.#empty, 'hidden', rows.length > 0);
    setText(this.#pageLabel, `Page ${this.#cursors.length}`);
    this.#prev.disabled = this.#cursors.length === 1;
    this.#next.disabled = this.#nextCursor === null;
    this.#showSelection();
  }

  #newRow(task: Task): Row {
    const check = h('input', { type: 'checkbox', 'aria-label': `select ${task.id}` });
    const open = h(
      'button',
      {
        type: 'button',
        class: 'link mono',
        onclick: () => openTaskDialog(this.#session, this.#queue, task.id, () => this.#onChanged()),
      },
      task.id,
    );
    const cell = (className = ''): HTMLTableCellElement => h('td', { class: className });
    const row: Row = {
      tr: h('tr', { 'data-task': task.id }),
      check,
      state: cell(),
      tag: cell(),
      attempts: cell('num'),
      enqueued: cell(),
      eta: cell(),
      lastError: cell('last-error'),
      from: cell(),
      task,
    };
    row.tr.append(
      h('td', { class: 'check' }, check),
      h('td', { class: 'id' }, open),
      row.state,
      row.tag,
      row.attempts,
      row.enqueued,
      row.eta,
      row.lastError,
      row.from,
    );
    check.addEventListener('change', () => {
      this.#select(row, check.checked);
      this.#showSelection();
    });
    this.#rows.set(task.id, row);
    return row;
  }

  #fill(row: Row, now: number): void {
    const { task, state, tag, attempts, enqueued, eta, lastError, from } = row;
    if (state.firstElementChild?.textContent !== task.state) {
      state.replaceChildren(h('span', { class: `badge state-${task.state}` }, task.state));
    }
    setText(tag, task.tag ?? '');
    setText(attempts, formatCount(task.attempts));
    setText(enqueued, formatRelative(task.enqueuedAt, now));
    setAttr(enqueued, 'title', formatTime(task.enqueuedAt));
    const etaText =
      task.state === 'dead'
        ? '–'
        : task.state === 'leased'
          ? `ends ${formatRelative(task.eta, now)}`
          : formatRelative(task.eta, now);
    setText(eta, etaText);
    setAttr(eta, 'title', task.state === 'dead' ? null : formatTime(task.eta));
    setText(lastError, task.lastError ?? '');
    setAttr(lastError, 'title', task.lastError);
    setClass(lastError, 'error-text', task.lastError !== null);
    setText(from, task.deadLetteredFrom ?? '');
    row.check.checked = this.#selected.has(task.id);
  }

  #select(row: Row, on: boolean): void {
    row.check.checked = on;
    if (on) this.#selected.add(row.task.id);
    else this.#selected.delete(row.task.id);
  }

  #clearSelection(): void {
    this.#selected.clear();
    for (const row of this.#rows.values()) row.check.checked = false;
    this.#showSelection();
  }

  #showSelection(): void {
    const count = this.#selected.size;
    setClass(this.#bulk, 'hidden', count === 0);
    setText(this.#bulkLabel, `${formatCount(count)} selected`);
    this.#all.checked = count > 0 && count === this.#rows.size;
    if (this.#redriveSelected) {
      const redrivable = [...this.#selected].every((id) => {
        const task = this.#rows.get(id)?.task;
        return task !== undefined && (task.state === 'dead' || task.deadLetteredFrom !== null);
      });
      this.#redriveSelected.disabled = !redrivable;
      this.#redriveSelected.title = redrivable
        ? ''
        : 'only dead tasks (or dead letters moved here) can be redriven';
    }
  }

  #redrive(event: Event, selectedOnly: boolean): void {
    const api = this.#session.api;
    const button = event.currentTarget as HTMLButtonElement;
    const ids = selectedOnly ? [...this.#selected] : undefined;
    const run = async (): Promise<void> => {
      const moved = await api.redrive(this.#queue, ids);
      showNotice(`${formatCount(moved)} task${moved === 1 ? '' : 's'} redriven`);
      this.#clearSelection();
      await this.#onChanged();
    };
    if (selectedOnly) {
      runAction(button, run);
      return;
    }
    openDialog({
      title: `Redrive every dead letter of ${this.#queue}?`,
      body: [
        h(
          'p',
          {},
          `${formatCount(this.#dead)} dead tasks become ready again, and tasks dead-lettered into ${this.#queue} go back to their own queues.`,
        ),
      ],
      submitLabel: 'Redrive all',
      onSubmit: run,
    });
  }

  #deleteSelected(): void {
    const ids = [...this.#selected];
    openDialog({
      title: `Delete ${formatCount(ids.length)} task${ids.length === 1 ? '' : 's'}?`,
      body: [
        h(
          'p',
          {},
          'They are deleted whatever their state, leased ones included. This cannot be undone.',
        ),
      ],
      submitLabel: 'Delete',
      danger: true,
      onSubmit: async () => {
        const failures = await this.#session.api.deleteTasks(this.#queue, ids);
        showNotice(`${formatCount(ids.length - failures.length)} deleted`);
        if (failures.length > 0) throw new Error(failures.join('; '));
        this.#clearSelection();
        await this.#onChanged();
      },
    });
  }

  #showTabs(): void {
    STATES.forEach((state, index) => {
      this.#tabs[index]?.setAttribute('aria-selected', String(state === this.#state));
    });
  }
}
