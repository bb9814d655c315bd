/// <reference lib="dom" />
/**
 * The task browser of a queue page: tasks in insertion order, filtered by state and tag, a
 * page at a time through the API's cursor (`GET /v1/queues/{queue}/tasks`), so a page deep in
 * a queue of millions costs what the first does. The page on screen is read again on every
 * refresh (./task-table.ts keeps the rows and the selection).
 *
 * Selected tasks can be deleted or, when dead (or dead-lettered into this queue), redriven;
 * "Redrive all" redrives every dead letter of the queue.
 */
import type { Stats, TaskState } from './api.ts';
import { describeError, h, openDialog, runAction, setClass, setText, showNotice } from './dom.ts';
import { formatCount } from './format.ts';
import type { Session } from './session.ts';
import { openTaskDialog } from './task-dialog.ts';
import { TaskTable } from './task-table.ts';

const STATES: readonly (TaskState | undefined)[] = [
  undefined,
  'ready',
  'delayed',
  'leased',
  'dead',
];
const PAGE_SIZES = [25, 50, 100, 200];
const DEFAULT_PAGE_SIZE = 50;

export class TaskBrowser {
  readonly element: HTMLElement;
  readonly #session: Session;
  readonly #queue: string;
  readonly #onChanged: () => Promise<void>;
  readonly #table: TaskTable;
  readonly #tabs: HTMLButtonElement[];
  readonly #tag: HTMLInputElement;
  readonly #size: HTMLSelectElement;
  readonly #empty = h('p', { class: 'empty hidden' });
  readonly #pageLabel = h('span', { class: 'muted' });
  readonly #prev: HTMLButtonElement;
  readonly #next: HTMLButtonElement;
  readonly #bulk = h('div', { class: 'bulk hidden' });
  readonly #bulkLabel = h('span', {});
  readonly #redriveSelected: HTMLButtonElement | null;
  readonly #redriveAll: HTMLButtonElement | null;
  #state: TaskState | undefined;
  /** The cursor of each page up to the one shown (undefined: the first page). */
  #cursors: (string | undefined)[] = [undefined];
  #nextCursor: string | null = null;
  #dead = 0;
  /** Bumped when the filter or the page changes: an older read in flight is dropped. */
  #generation = 0;

  constructor(session: Session, queue: string, onChanged: () => Promise<void>) {
    this.#session = session;
    this.#queue = queue;
    this.#onChanged = onChanged;
    this.#table = new TaskTable(
      (id) => openTaskDialog(session, queue, id, onChanged),
      () => this.#showSelection(),
    );
    const button = (
      label: string,
      onclick: (event: Event) => void,
      kind = 'button',
    ): HTMLButtonElement => h('button', { type: 'button', class: kind, onclick }, label);
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
        h('option', { value: size, selected: size === DEFAULT_PAGE_SIZE }, `${size} a page`),
      ),
    );
    this.#prev = button('‹ Previous', () => this.#go(-1));
    this.#next = button('Next ›', () => this.#go(1));
    this.#redriveSelected = session.can('redrive')
      ? button('Redrive', (event) => this.#redrive(event, true))
      : null;
    this.#redriveAll = session.can('redrive')
      ? button('Redrive all dead', (event) => this.#redrive(event, false), 'button hidden')
      : null;
    this.#bulk.append(
      this.#bulkLabel,
      this.#redriveSelected ?? '',
      session.can('delete')
        ? button('Delete', () => this.#deleteSelected(), 'button danger-outline')
        : '',
      button('Clear', () => this.#clearSelection(), 'button ghost'),
    );
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
      this.#table.element,
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
    if (generation !== this.#generation) return;
    this.#nextCursor = page.nextCursor;
    this.#table.show(page.tasks);
    const what = this.#state ? `${this.#state} tasks` : 'tasks';
    setText(this.#empty, this.#cursors.length > 1 ? `No more ${what}.` : `No ${what}.`);
    setClass(this.#empty, 'hidden', page.tasks.length > 0);
    setText(this.#pageLabel, `Page ${this.#cursors.length}`);
    this.#prev.disabled = this.#cursors.length === 1;
    this.#next.disabled = this.#nextCursor === null;
    this.#showSelection();
  }

  dispose(): void {
    this.#generation++;
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

  /** Reads the page now rather than at the next refresh. */
  #reload(): void {
    this.#generation++;
    this.refresh().catch((error: unknown) => {
      setText(this.#empty, describeError(error));
      setClass(this.#empty, 'hidden', false);
    });
  }

  #clearSelection(): void {
    this.#table.clearSelection();
    this.#showSelection();
  }

  #showSelection(): void {
    const selected = this.#table.selected;
    setClass(this.#bulk, 'hidden', selected.length === 0);
    setText(this.#bulkLabel, `${formatCount(selected.length)} selected`);
    if (this.#redriveSelected) {
      const redrivable = selected.every(
        (task) => task.state === 'dead' || task.deadLetteredFrom !== null,
      );
      this.#redriveSelected.disabled = !redrivable;
      this.#redriveSelected.title = redrivable
        ? ''
        : 'only dead tasks (or dead letters moved here) can be redriven';
    }
  }

  #redrive(event: Event, selectedOnly: boolean): void {
    const api = this.#session.api;
    const ids = selectedOnly ? this.#table.selected.map((task) => task.id) : undefined;
    const run = async (): Promise<void> => {
      const moved = await api.redrive(this.#queue, ids);
      showNotice(`${formatCount(moved)} task${moved === 1 ? '' : 's'} redriven`);
      this.#clearSelection();
      await this.#onChanged();
    };
    if (selectedOnly) {
      runAction(event.currentTarget as HTMLButtonElement, run);
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
    const ids = this.#table.selected.map((task) => task.id);
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
        this.#clearSelection();
        await this.#onChanged();
        if (failures.length > 0) throw new Error(failures.join('; '));
      },
    });
  }

  #showTabs(): void {
    STATES.forEach((state, index) => {
      this.#tabs[index]?.setAttribute('aria-selected', String(state === this.#state));
    });
  }
}
