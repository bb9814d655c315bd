/// <reference lib="dom" />
/// <reference lib="dom.iterable" />
/**
 * The table of one page of tasks: rows kept by task id and updated in place (a refresh every
 * second rewrites only what changed, relative times included), a checkbox per row, and the
 * selection, which survives refreshes as long as its tasks stay on the page.
 */
import type { Task } from './api.ts';
import { h, setAttr, setClass, setText } from './dom.ts';
import { formatCount, formatRelative, formatTime } from './format.ts';

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

const HEAD = [
  'ID',
  'State',
  'Tag',
  'Attempts',
  'Enqueued',
  'ETA / lease ends',
  'Last error',
  'From',
];

export class TaskTable {
  readonly element: HTMLElement;
  readonly #tbody = h('tbody');
  readonly #rows = new Map<string, Row>();
  readonly #selected = new Set<string>();
  readonly #all: HTMLInputElement;
  readonly #open: (id: string) => void;
  readonly #onSelection: () => void;

  /** `open`: a task's id was clicked; `onSelection`: the selection changed. */
  constructor(open: (id: string) => void, onSelection: () => void) {
    this.#open = open;
    this.#onSelection = onSelection;
    this.#all = h('input', {
      type: 'checkbox',
      'aria-label': 'select every task on this page',
      onchange: () => {
        for (const row of this.#rows.values()) this.#select(row, this.#all.checked);
        this.#onSelection();
      },
    });
    const head = h(
      'tr',
      {},
      h('th', { class: 'check' }, this.#all),
      ...HEAD.map((label, index) =>
        h('th', { scope: 'col', class: index === 3 ? 'num' : '' }, label),
      ),
    );
    this.element = h(
      'div',
      { class: 'table-wrap card' },
      h('table', { class: 'table', id: 'task-table' }, h('thead', {}, head), this.#tbody),
    );
  }

  /** The tasks selected on this page. */
  get selected(): Task[] {
    return [...this.#selected].flatMap((id) => {
      const task = this.#rows.get(id)?.task;
      return task ? [task] : [];
    });
  }

  show(tasks: Task[]): void {
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
      if (seen.has(id)) continue;
      this.#rows.delete(id);
      this.#selected.delete(id);
      row.tr.remove();
    }
    const current = [...this.#tbody.children];
    if (current.length !== rows.length || rows.some((row, index) => current[index] !== row.tr)) {
      this.#tbody.replaceChildren(...rows.map((row) => row.tr));
    }
    this.#all.checked = this.#selected.size > 0 && this.#selected.size === this.#rows.size;
  }

  clearSelection(): void {
    for (const row of this.#rows.values()) this.#select(row, false);
    this.#all.checked = false;
  }

  #newRow(task: Task): Row {
    const check = h('input', { type: 'checkbox', 'aria-label': `select ${task.id}` });
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
    const open = h(
      'button',
      { type: 'button', class: 'link mono', onclick: () => this.#open(task.id) },
      task.id,
    );
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
      this.#all.checked = this.#selected.size === this.#rows.size;
      this.#onSelection();
    });
    this.#rows.set(task.id, row);
    return row;
  }

  #fill(row: Row, now: number): void {
    const { task } = row;
    if (row.state.firstElementChild?.textContent !== task.state) {
      row.state.replaceChildren(h('span', { class: `badge state-${task.state}` }, task.state));
    }
    setText(row.tag, task.tag ?? '');
    setText(row.attempts, formatCount(task.attempts));
    setText(row.enqueued, formatRelative(task.enqueuedAt, now));
    setAttr(row.enqueued, 'title', formatTime(task.enqueuedAt));
    const eta = formatRelative(task.eta, now);
    setText(row.eta, task.state === 'dead' ? '–' : task.state === 'leased' ? `ends ${eta}` : eta);
    setAttr(row.eta, 'title', task.state === 'dead' ? null : formatTime(task.eta));
    setText(row.lastError, task.lastError ?? '');
    setAttr(row.lastError, 'title', task.lastError);
    setClass(row.lastError, 'error-text', task.lastError !== null);
    setText(row.from, task.deadLetteredFrom ?? '');
    row.check.checked = this.#selected.has(task.id);
  }

  #select(row: Row, on: boolean): void {
    row.check.checked = on;
    if (on) this.#selected.add(row.task.id);
    else this.#selected.delete(row.task.id);
  }
}
