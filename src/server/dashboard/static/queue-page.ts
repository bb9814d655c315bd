/// <reference lib="dom" />
/**
 * A queue's page (`#/queues/NAME`): its settings and counts, its charts, the actions an admin
 * may take (pause or resume, edit settings, purge, delete), and the task browser.
 */
import { ApiError, type Queue, type Stats } from './api.ts';
import { Charts } from './charts.ts';
import { describeError, h, runAction, setClass, setText, showNotice } from './dom.ts';
import { formatCount, formatDuration, formatRelative, formatTime } from './format.ts';
import type { Page } from './page.ts';
import { deleteQueueDialog, editQueueDialog, purgeQueueDialog } from './queue-dialogs.ts';
import type { Session } from './session.ts';
import { TaskBrowser } from './task-browser.ts';

const TILES: readonly {
  key: string;
  label: string;
  state?: 'ready' | 'delayed' | 'leased' | 'dead';
  text: (stats: Stats) => string;
  zero: (stats: Stats) => boolean;
}[] = [
  {
    key: 'ready',
    label: 'Ready',
    state: 'ready',
    text: (s) => formatCount(s.ready),
    zero: (s) => s.ready === 0,
  },
  {
    key: 'delayed',
    label: 'Delayed',
    state: 'delayed',
    text: (s) => formatCount(s.delayed),
    zero: (s) => s.delayed === 0,
  },
  {
    key: 'leased',
    label: 'Leased',
    state: 'leased',
    text: (s) => formatCount(s.leased),
    zero: (s) => s.leased === 0,
  },
  {
    key: 'dead',
    label: 'Dead',
    state: 'dead',
    text: (s) => formatCount(s.dead),
    zero: (s) => s.dead === 0,
  },
  {
    key: 'oldest',
    label: 'Oldest ready',
    text: (s) => (s.oldestReadyAgeSeconds === null ? '–' : formatDuration(s.oldestReadyAgeSeconds)),
    zero: (s) => s.oldestReadyAgeSeconds === null,
  },
  {
    key: 'minute',
    label: 'Leased 1m',
    text: (s) => formatCount(s.leasedLastMinute),
    zero: (s) => s.leasedLastMinute === 0,
  },
  {
    key: 'hour',
    label: 'Leased 1h',
    text: (s) => formatCount(s.leasedLastHour),
    zero: (s) => s.leasedLastHour === 0,
  },
];

export class QueuePage implements Page {
  readonly element: HTMLElement;
  readonly #session: Session;
  readonly #name: string;
  readonly #charts: Charts;
  readonly #browser: TaskBrowser;
  readonly #tiles = new Map<string, HTMLElement>();
  readonly #settings = h('p', { class: 'settings muted' });
  readonly #pausedBadge = h('span', { class: 'badge paused hidden' }, 'paused');
  readonly #pauseButton: HTMLButtonElement | null;
  readonly #missing = h('p', { class: 'empty problem hidden', role: 'alert' });
  readonly #body: HTMLElement;
  #queue: Queue | null = null;
  #stats: Stats | null = null;

  constructor(session: Session, name: string) {
    this.#session = session;
    this.#name = name;
    const api = session.api;
    this.#charts = new Charts(api, name);
    this.#browser = new TaskBrowser(session, name, () => this.refresh());
    const button = (
      label: string,
      onclick: (event: Event) => void,
      kind = 'button',
    ): HTMLButtonElement => h('button', { type: 'button', class: kind, onclick }, label);
    this.#pauseButton = session.can('updateQueue')
      ? button('Pause', (event) =>
          runAction(event.currentTarget as HTMLButtonElement, async () => {
            const paused = !(this.#queue?.paused ?? false);
            await api.setPaused(name, paused);
            showNotice(`${name} ${paused ? 'paused' : 'resumed'}`);
            await this.refresh();
          }),
        )
      : null;
    const actions = h(
      'div',
      { class: 'actions' },
      this.#pauseButton,
      session.can('updateQueue')
        ? button('Settings', () => {
            if (this.#queue) editQueueDialog(api, this.#queue, () => void this.refresh());
          })
        : null,
      session.can('purge')
        ? button(
            'Purge',
            () => purgeQueueDialog(api, name, this.#taskCount(), () => void this.refresh()),
            'button danger-outline',
          )
        : null,
      session.can('deleteQueue')
        ? button(
            'Delete',
            () =>
              deleteQueueDialog(api, name, () => {
                location.hash = '#/';
              }),
            'button danger-outline',
          )
        : null,
    );
    this.#body = h(
      'div',
      { class: 'page' },
      this.#tilesSection(),
      this.#charts.element,
      this.#browser.element,
    );
    this.element = h(
      'div',
      { class: 'page queue-page' },
      h(
        'div',
        { class: 'page-head' },
        h(
          'div',
          {},
          h(
            'nav',
            { class: 'crumbs', 'aria-label': 'breadcrumb' },
            h('a', { href: '#/' }, 'Queues'),
            ' / ',
          ),
          h('h1', {}, name, ' ', this.#pausedBadge),
          this.#settings,
        ),
        actions,
      ),
      this.#missing,
      this.#body,
    );
  }

  async refresh(): Promise<void> {
    const api = this.#session.api;
    try {
      const [queue, stats] = await Promise.all([
        api.queue(this.#name),
        api.stats(this.#name),
        this.#charts.refresh(),
        this.#browser.refresh(),
      ]);
      this.#queue = queue;
      this.#stats = stats;
    } catch (error) {
      if (error instanceof ApiError && error.code === 'queue_not_found') {
        this.#problem(`There is no queue named ${this.#name} (any more).`);
        return;
      }
      // Refused: said on the page, and in the alert the poll loop shows.
      if (error instanceof ApiError && error.code === 'permission_denied') {
        this.#problem(describeError(error));
      }
      throw error;
    }
    setClass(this.#missing, 'hidden', true);
    setClass(this.#body, 'hidden', false);
    this.#show(this.#queue, this.#stats);
  }

  dispose(): void {
    this.#charts.dispose();
    this.#browser.dispose();
  }

  #problem(text: string): void {
    setText(this.#missing, text);
    setClass(this.#missing, 'hidden', false);
    setClass(this.#body, 'hidden', true);
  }

  #taskCount(): number {
    const stats = this.#stats;
    return stats ? stats.ready + stats.delayed + stats.leased + stats.dead : 0;
  }

  #tilesSection(): HTMLElement {
    return h(
      'section',
      { class: 'tiles', 'aria-label': 'counts' },
      ...TILES.map((tile) => {
        const value = h('span', { class: 'tile-value', 'data-count': tile.key }, '–');
        this.#tiles.set(tile.key, value);
        const props = { class: `tile${tile.state ? ` state-${tile.state}` : ''}` };
        const children = [h('span', { class: 'tile-label' }, tile.label), value];
        const state = tile.state;
        return state
          ? h(
              'button',
              {
                ...props,
                type: 'button',
                title: `list the ${tile.label.toLowerCase()} tasks`,
                onclick: () => this.#browser.showState(state),
              },
              ...children,
            )
          : h('div', props, ...children);
      }),
    );
  }

  #show(queue: Queue, stats: Stats): void {
    setClass(this.#pausedBadge, 'hidden', !queue.paused);
    if (this.#pauseButton) setText(this.#pauseButton, queue.paused ? 'Resume' : 'Pause');
    const parts = [
      `max leases ${queue.maxLeases === null ? 'unlimited' : formatCount(queue.maxLeases)}`,
      queue.deadLetterQueue === null
        ? 'dead letters stay here'
        : `dead letters → ${queue.deadLetterQueue}`,
      `dedup window ${formatDuration(queue.dedupWindowSeconds)}`,
      `created ${formatRelative(queue.createdAt)}`,
    ];
    setText(this.#settings, parts.join(' · '));
    this.#settings.title = `created ${formatTime(queue.createdAt)}`;
    for (const tile of TILES) {
      const value = this.#tiles.get(tile.key) as HTMLElement;
      setText(value, tile.text(stats));
      setClass(value, 'zero', tile.zero(stats));
    }
    setClass(this.#tiles.get('dead') as HTMLElement, 'bad', stats.dead > 0);
    this.#browser.setCounts(stats);
  }
}
