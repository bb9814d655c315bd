/// <reference lib="dom" />
/**
 * The overview (`#/`): totals over every queue the token may read, the charts of all of them,
 * and the queues table. One request (`GET /v1/stats`, paged by 1,000) reads every queue's
 * stats, so the page stays fast with thousands of queues.
 *
 * A producer-only token may list queue names but not read stats: it gets the names alone.
 */
import type { QueueWithStats } from './api.ts';
import { Charts } from './charts.ts';
import { h, setClass, setText } from './dom.ts';
import { formatCount } from './format.ts';
import type { Page } from './page.ts';
import { createQueueDialog } from './queue-dialogs.ts';
import { QueueTable } from './queue-table.ts';
import type { Session } from './session.ts';

const TOTALS = [
  { key: 'ready', label: 'Ready', state: 'ready' },
  { key: 'delayed', label: 'Delayed', state: 'delayed' },
  { key: 'leased', label: 'Leased', state: 'leased' },
  { key: 'dead', label: 'Dead', state: 'dead' },
] as const;

export class OverviewPage implements Page {
  readonly element: HTMLElement;
  readonly searchInput?: HTMLInputElement;
  readonly #session: Session;
  readonly #charts: Charts | null;
  readonly #table: QueueTable | null;
  readonly #tiles = new Map<string, HTMLElement>();
  readonly #names = h('ul', { class: 'name-list' });

  constructor(session: Session) {
    this.#session = session;
    const readsStats = session.can('stats');
    const create = session.can('createQueue')
      ? h(
          'button',
          {
            type: 'button',
            class: 'button primary',
            onclick: () =>
              createQueueDialog(session.api, (queue) => {
                location.hash = `#/queues/${queue.name}`;
              }),
          },
          'Create queue',
        )
      : null;
    this.#charts = readsStats ? new Charts(session.api, null) : null;
    this.#table = readsStats ? new QueueTable(create) : null;
    if (this.#table) this.searchInput = this.#table.filterInput;
    this.element = h(
      'div',
      { class: 'page overview' },
      readsStats ? this.#totals() : null,
      this.#charts?.element,
      this.#table?.element ??
        h(
          'section',
          { class: 'queues' },
          h(
            'div',
            { class: 'section-head' },
            h('h2', {}, 'Queues'),
            h('span', { class: 'spacer' }),
            create,
          ),
          h(
            'p',
            { class: 'muted' },
            `Token ${session.who.name ?? ''} may insert tasks but not read queue stats (that needs the consumer or admin role).`,
          ),
          this.#names,
        ),
    );
  }

  async refresh(): Promise<void> {
    if (!this.#table) {
      const queues = await this.#session.api.queues();
      this.#names.replaceChildren(...queues.map((queue) => h('li', {}, queue.name)));
      return;
    }
    // The table and totals are drawn as soon as the stats arrive, not after the charts' history
    // (an hour summed over every queue), which draws on its own.
    const charts = this.#charts?.refresh();
    try {
      const { queues, truncated } = await this.#session.api.allQueueStats();
      this.#table.update(queues, truncated);
      this.#updateTotals(queues);
    } finally {
      await charts;
    }
  }

  dispose(): void {
    this.#charts?.dispose();
  }

  #totals(): HTMLElement {
    const tiles = TOTALS.map((total) => {
      const value = h('span', { class: 'tile-value' }, '–');
      this.#tiles.set(total.key, value);
      return h(
        'div',
        { class: `tile state-${total.state}` },
        h('span', { class: 'tile-label' }, total.label),
        value,
      );
    });
    const queues = h('span', { class: 'tile-value' }, '–');
    this.#tiles.set('queues', queues);
    return h(
      'section',
      { class: 'tiles', 'aria-label': 'totals' },
      h('div', { class: 'tile' }, h('span', { class: 'tile-label' }, 'Queues'), queues),
      ...tiles,
    );
  }

  #updateTotals(queues: QueueWithStats[]): void {
    const sums = { ready: 0, delayed: 0, leased: 0, dead: 0 };
    for (const queue of queues) {
      for (const { key } of TOTALS) sums[key] += queue.stats[key];
    }
    setText(this.#tiles.get('queues') as HTMLElement, formatCount(queues.length));
    for (const { key } of TOTALS) {
      const tile = this.#tiles.get(key) as HTMLElement;
      setText(tile, formatCount(sums[key]));
      setClass(tile, 'zero', sums[key] === 0);
    }
  }
}
