/// <reference lib="dom" />
/// <reference lib="dom.iterable" />
/**
 * The queues table of the overview: one row per queue, sortable by any column, filtered by
 * name. Rows are kept by queue name and updated in place, cell by cell, so a refresh every
 * second changes only the numbers that moved, and 1,000 rows stay cheap.
 */
import type { QueueWithStats } from './api.ts';
import { h, setAttr, setClass, setText } from './dom.ts';
import { formatCount, formatDuration } from './format.ts';

interface Column {
  key: string;
  label: string;
  numeric: boolean;
  /** The value sorted on. */
  value: (queue: QueueWithStats) => number | string;
  title?: string;
}

const COLUMNS: readonly Column[] = [
  { key: 'name', label: 'Queue', numeric: false, value: (q) => q.name },
  { key: 'ready', label: 'Ready', numeric: true, value: (q) => q.stats.ready },
  { key: 'delayed', label: 'Delayed', numeric: true, value: (q) => q.stats.delayed },
  { key: 'leased', label: 'Leased', numeric: true, value: (q) => q.stats.leased },
  { key: 'dead', label: 'Dead', numeric: true, value: (q) => q.stats.dead },
  {
    key: 'oldest',
    label: 'Oldest ready',
    numeric: true,
    value: (q) => q.stats.oldestReadyAgeSeconds ?? -1,
    title: 'how long the oldest ready task has waited',
  },
  {
    key: 'minute',
    label: 'Leased 1m',
    numeric: true,
    value: (q) => q.stats.leasedLastMinute,
    title: 'leases in the last minute',
  },
  {
    key: 'hour',
    label: 'Leased 1h',
    numeric: true,
    value: (q) => q.stats.leasedLastHour,
    title: 'leases in the last hour',
  },
];

interface Row {
  tr: HTMLTableRowElement;
  link: HTMLAnchorElement;
  paused: HTMLElement;
  cells: HTMLTableCellElement[];
  queue: QueueWithStats;
}

/** Sort and filter survive leaving the page and coming back. */
const view = { sortKey: 'name', descending: false, filter: '' };

/** Waiting this long for a ready task is shown as a warning. */
const OLD_READY_SECONDS = 60;

export class QueueTable {
  readonly element: HTMLElement;
  readonly filterInput: HTMLInputElement;
  readonly #tbody = h('tbody');
  readonly #headers: HTMLButtonElement[] = [];
  readonly #summary = h('span', { class: 'muted' });
  readonly #empty = h('p', { class: 'empty hidden' });
  readonly #rows = new Map<string, Row>();
  #order: string[] = [];
  #truncated = false;

  constructor(actions: HTMLElement | null) {
    this.filterInput = h('input', {
      type: 'search',
      class: 'input',
      placeholder: 'Filter by name  ( / )',
      'aria-label': 'filter queues by name',
      value: view.filter,
      oninput: () => {
        view.filter = this.filterInput.value.trim();
        this.#arrange();
      },
    });
    const head = h(
      'tr',
      {},
      ...COLUMNS.map((column) => {
        const button = h(
          'button',
          {
            type: 'button',
            class: 'sort',
            title: column.title ?? `sort by ${column.label.toLowerCase()}`,
            onclick: () => this.#sortBy(column.key),
          },
          column.label,
        );
        this.#headers.push(button);
        return h('th', { class: column.numeric ? 'num' : '', scope: 'col' }, button);
      }),
    );
    this.element = h(
      'section',
      { class: 'queues', 'aria-label': 'queues' },
      h(
        'div',
        { class: 'section-head' },
        h('h2', {}, 'Queues'),
        this.#summary,
        h('span', { class: 'spacer' }),
        this.filterInput,
        actions,
      ),
      h(
        'div',
        { class: 'table-wrap card' },
        h('table', { class: 'table', id: 'queue-table' }, h('thead', {}, head), this.#tbody),
      ),
      this.#empty,
    );
    this.#showSort();
  }

  update(queues: QueueWithStats[], truncated: boolean): void {
    this.#truncated = truncated;
    const seen = new Set<string>();
    for (const queue of queues) {
      seen.add(queue.name);
      const row = this.#rows.get(queue.name) ?? this.#newRow(queue.name);
      row.queue = queue;
      this.#fill(row);
    }
    for (const [name, row] of this.#rows) {
      if (!seen.has(name)) {
        row.tr.remove();
        this.#rows.delete(name);
      }
    }
    this.#arrange();
  }

  #newRow(name: string): Row {
    const link = h('a', { href: `#/queues/${name}` }, name);
    const paused = h('span', { class: 'badge paused hidden' }, 'paused');
    const cells = COLUMNS.map((column, index) =>
      index === 0
        ? h('td', { class: 'name' }, link, paused)
        : h('td', { class: column.numeric ? 'num' : '' }),
    );
    const tr = h('tr', { 'data-queue': name }, ...cells);
    const row: Row = { tr, link, paused, cells, queue: undefined as unknown as QueueWithStats };
    this.#rows.set(name, row);
    return row;
  }

  #fill(row: Row): void {
    const { stats, paused } = row.queue;
    setClass(row.paused, 'hidden', !paused);
    setClass(row.tr, 'is-paused', paused);
    const counts = [stats.ready, stats.delayed, stats.leased, stats.dead];
    counts.forEach((count, index) => {
      const cell = row.cells[index + 1] as HTMLTableCellElement;
      setText(cell, formatCount(count));
      setClass(cell, 'zero', count === 0);
    });
    setClass(row.cells[4] as HTMLElement, 'bad', stats.dead > 0);
    const oldest = row.cells[5] as HTMLTableCellElement;
    const age = stats.oldestReadyAgeSeconds;
    setText(oldest, age === null ? '–' : formatDuration(age));
    setClass(oldest, 'zero', age === null);
    setClass(oldest, 'warn', age !== null && age >= OLD_READY_SECONDS);
    setText(row.cells[6] as HTMLElement, formatCount(stats.leasedLastMinute));
    setClass(row.cells[6] as HTMLElement, 'zero', stats.leasedLastMinute === 0);
    setText(row.cells[7] as HTMLElement, formatCount(stats.leasedLastHour));
    setClass(row.cells[7] as HTMLElement, 'zero', stats.leasedLastHour === 0);
  }

  /** Filters and sorts; moves rows only when the order changed. */
  #arrange(): void {
    const column = COLUMNS.find((candidate) => candidate.key === view.sortKey) ?? COLUMNS[0];
    const needle = view.filter.toLowerCase();
    const rows = [...this.#rows.values()].filter(
      (row) => needle === '' || row.queue.name.toLowerCase().includes(needle),
    );
    if (column) {
      const sign = view.descending ? -1 : 1;
      rows.sort((a, b) => {
        const left = column.value(a.queue);
        const right = column.value(b.queue);
        if (left < right) return -sign;
        if (left > right) return sign;
        return a.queue.name < b.queue.name ? -1 : 1;
      });
    }
    const order = rows.map((row) => row.queue.name);
    if (order.length !== this.#order.length || order.some((name, i) => name !== this.#order[i])) {
      this.#tbody.replaceChildren(...rows.map((row) => row.tr));
      this.#order = order;
    }
    const total = this.#rows.size;
    setText(
      this.#summary,
      `${formatCount(total)} queue${total === 1 ? '' : 's'}${
        rows.length === total ? '' : `, ${formatCount(rows.length)} shown`
      }${this.#truncated ? ' (the server has more: only the first 10,000 are listed)' : ''}`,
    );
    const emptyText =
      total === 0
        ? 'No queues yet. A queue appears when the first task is inserted into it, or when it is created.'
        : rows.length === 0
          ? `No queue name contains "${view.filter}".`
          : '';
    setText(this.#empty, emptyText);
    setClass(this.#empty, 'hidden', emptyText === '');
  }

  #sortBy(key: string): void {
    if (view.sortKey === key) {
      view.descending = !view.descending;
    } else {
      view.sortKey = key;
      // Counts are most useful largest first; names alphabetically.
      view.descending = key !== 'name';
    }
    this.#showSort();
    this.#arrange();
  }

  #showSort(): void {
    COLUMNS.forEach((column, index) => {
      const th = this.#headers[index]?.parentElement;
      if (!th) return;
      setAttr(
        th,
        'aria-sort',
        column.key === view.sortKey ? (view.descending ? 'descending' : 'ascending') : null,
      );
    });
  }
}
