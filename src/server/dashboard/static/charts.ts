/// <reference lib="dom" />
/**
 * The rate and backlog charts (uPlot) of one queue, or of every readable queue: tasks
 * inserted, leased, acked, failed and dead-lettered per second, and the backlog over time,
 * from `GET /v1/stats/history`. A server without that endpoint, or without history yet,
 * shows "No data yet" instead of a chart.
 *
 * History is read every HISTORY_EVERY_MS at most (a refresh of the page is every 1-2 s), and
 * the charts follow the colour scheme and the width of the page.
 */
import uPlot from 'uplot';
import type { Api, History } from './api.ts';
import { describeError, h, setClass, setText } from './dom.ts';
import { formatCount } from './format.ts';

const HISTORY_EVERY_MS = 5000;
const CHART_HEIGHT = 170;

const RANGES: readonly { label: string; seconds: number }[] = [
  { label: '5m', seconds: 300 },
  { label: '15m', seconds: 900 },
  { label: '1h', seconds: 3600 },
];

type RateKey = 'inserted' | 'leased' | 'acked' | 'failed' | 'deadLettered';
const RATE_SERIES: readonly { key: RateKey; label: string; colour: string }[] = [
  { key: 'inserted', label: 'inserted', colour: '--chart-inserted' },
  { key: 'leased', label: 'leased', colour: '--chart-leased' },
  { key: 'acked', label: 'acked', colour: '--chart-acked' },
  { key: 'failed', label: 'failed', colour: '--chart-failed' },
  { key: 'deadLettered', label: 'dead-lettered', colour: '--chart-dead' },
];

/** The range chosen last, kept while the tab lives (every chart shows the same window). */
let rangeSeconds = 3600;

export class Charts {
  readonly element: HTMLElement;
  readonly #api: Api;
  readonly #queue: string | null;
  readonly #rates: ChartBox;
  readonly #backlog: ChartBox;
  readonly #rangeButtons: HTMLButtonElement[];
  readonly #scheme = window.matchMedia('(prefers-color-scheme: dark)');
  readonly #onScheme = (): void => this.#redraw();
  #history: History | null = null;
  /** When the history was last read (performance.now()); never, at first. */
  #fetchedAt = -Infinity;

  constructor(api: Api, queue: string | null) {
    this.#api = api;
    this.#queue = queue;
    this.#rates = new ChartBox('Tasks per second');
    this.#backlog = new ChartBox('Backlog (ready + delayed)');
    this.#rangeButtons = RANGES.map((range) =>
      h(
        'button',
        {
          type: 'button',
          class: 'segment',
          'aria-pressed': String(range.seconds === rangeSeconds),
          onclick: () => this.#setRange(range.seconds),
        },
        range.label,
      ),
    );
    this.element = h(
      'section',
      { class: 'charts', 'aria-label': 'charts' },
      h(
        'div',
        { class: 'section-head' },
        h('h2', {}, queue === null ? 'All queues' : 'Activity'),
        h(
          'div',
          { class: 'segments', role: 'group', 'aria-label': 'time range' },
          ...this.#rangeButtons,
        ),
      ),
      h('div', { class: 'chart-row' }, this.#rates.element, this.#backlog.element),
    );
    this.#scheme.addEventListener('change', this.#onScheme);
  }

  /** Reads the history when the last read is older than HISTORY_EVERY_MS. */
  async refresh(force = false): Promise<void> {
    if (!force && performance.now() - this.#fetchedAt < HISTORY_EVERY_MS) return;
    this.#fetchedAt = performance.now();
    try {
      this.#history = await this.#api.history(this.#queue, rangeSeconds);
    } catch (error) {
      this.#rates.message(describeError(error));
      this.#backlog.message(describeError(error));
      return;
    }
    this.#draw();
  }

  dispose(): void {
    this.#scheme.removeEventListener('change', this.#onScheme);
    this.#rates.dispose();
    this.#backlog.dispose();
  }

  #setRange(seconds: number): void {
    rangeSeconds = seconds;
    RANGES.forEach((range, index) => {
      this.#rangeButtons[index]?.setAttribute('aria-pressed', String(range.seconds === seconds));
    });
    void this.refresh(true);
  }

  #redraw(): void {
    this.#rates.dispose();
    this.#backlog.dispose();
    this.#draw();
  }

  #draw(): void {
    const history = this.#history;
    const points = history?.series.inserted.length ?? 0;
    if (!history || points === 0) {
      this.#rates.message('No data yet');
      this.#backlog.message('No data yet');
      return;
    }
    const startSeconds = history.start / 1000;
    const xs = Array.from({ length: points }, (_, index) => startSeconds + index * history.step);
    const perSecond = (values: number[]): number[] => values.map((value) => value / history.step);
    this.#rates.show(
      [xs, ...RATE_SERIES.map((series) => perSecond(history.series[series.key]))],
      RATE_SERIES.map((series) => ({ label: series.label, colour: series.colour })),
    );
    this.#backlog.show(
      [xs, history.series.backlog],
      // Sampled every few seconds: the seconds between samples are null, and the line spans them.
      [{ label: 'backlog', colour: '--chart-backlog', fill: true, spanGaps: true }],
    );
  }
}

/** `14:05` or, when the chart spans under 10 minutes, `14:05:30` (24-hour: short and clear). */
function clockTime(u: uPlot, seconds: number): string {
  const span = (u.scales['x']?.max ?? 0) - (u.scales['x']?.min ?? 0);
  const time = new Date(seconds * 1000);
  const two = (value: number): string => String(value).padStart(2, '0');
  const minutes = `${two(time.getHours())}:${two(time.getMinutes())}`;
  return span < 600 ? `${minutes}:${two(time.getSeconds())}` : minutes;
}

interface SeriesStyle {
  label: string;
  /** A CSS custom property of dashboard.css. */
  colour: string;
  fill?: boolean;
  spanGaps?: boolean;
}

/** One chart card: a uPlot chart, or a message in its place. */
class ChartBox {
  readonly element: HTMLElement;
  readonly #body: HTMLElement;
  readonly #empty: HTMLElement;
  readonly #resize: ResizeObserver;
  #plot: uPlot | null = null;

  constructor(title: string) {
    this.#empty = h('div', { class: 'chart-empty' }, 'No data yet');
    this.#body = h('div', { class: 'chart-body' }, this.#empty);
    this.element = h('div', { class: 'card chart-card' }, h('h3', {}, title), this.#body);
    this.#resize = new ResizeObserver(() => {
      this.#plot?.setSize({ width: this.#width(), height: CHART_HEIGHT });
    });
    this.#resize.observe(this.#body);
  }

  message(text: string): void {
    this.#plot?.destroy();
    this.#plot = null;
    setText(this.#empty, text);
    setClass(this.#empty, 'hidden', false);
  }

  show(data: uPlot.AlignedData, series: SeriesStyle[]): void {
    setClass(this.#empty, 'hidden', true);
    if (this.#plot && this.#plot.series.length === series.length + 1) {
      this.#plot.setData(data);
      return;
    }
    this.#plot?.destroy();
    this.#plot = new uPlot(this.#options(series), data, this.#body);
  }

  dispose(): void {
    this.#plot?.destroy();
    this.#plot = null;
  }

  #width(): number {
    return Math.max(200, this.#body.clientWidth);
  }

  #options(series: SeriesStyle[]): uPlot.Options {
    const style = getComputedStyle(document.documentElement);
    const colour = (name: string): string => style.getPropertyValue(name).trim();
    const axis: uPlot.Axis = {
      stroke: colour('--muted'),
      grid: { stroke: colour('--grid'), width: 1 },
      ticks: { stroke: colour('--grid'), width: 1 },
      font: '11px system-ui, sans-serif',
    };
    return {
      width: this.#width(),
      height: CHART_HEIGHT,
      cursor: { drag: { x: false, y: false } },
      legend: { live: true },
      scales: { x: { time: true }, y: { range: (_u, min, max) => [0, Math.max(1, min, max)] } },
      axes: [
        // Clock times only (the date is today's): seconds when the window is short.
        { ...axis, space: 64, values: (u, ticks) => ticks.map((tick) => clockTime(u, tick)) },
        { ...axis, size: 48, values: (_u, ticks) => ticks.map((tick) => formatCount(tick)) },
      ],
      series: [
        {},
        ...series.map((item) => ({
          label: item.label,
          stroke: colour(item.colour),
          width: 1.5,
          points: { show: false },
          value: (_u: uPlot, value: number | null) =>
            value === null ? '–' : formatCount(Math.round(value * 100) / 100),
          spanGaps: item.spanGaps ?? false,
          ...(item.fill ? { fill: `${colour(item.colour)}22` } : {}),
        })),
      ],
    };
  }
}
