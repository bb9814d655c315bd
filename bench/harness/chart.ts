/**
 * The chart of docs/benchmarks.md: an SVG of horizontal bars, one panel per cell with its own
 * scale (tasks/s, or p99 ms where lower is better), a whisker for the range of the runs, and
 * panels of CPU seconds per 1,000 tasks for the drain cells. Plain SVG text: no dependency,
 * and it diffs readably in review.
 */
import { formatCpu, formatMs, formatRate, type SummaryRow } from './summary.ts';
import type { Spread } from './stats.ts';

const WIDTH = 760;
const LABEL_WIDTH = 170;
const BAR_WIDTH = 440;
const ROW = 20;
const TITLE = 26;
const GAP = 14;
const OWN_COLOR = '#2b6cb0';
const PEER_COLOR = '#c05621';

interface Panel {
  title: string;
  bars: { name: string; own: boolean; value: Spread | null; text: (value: number) => string }[];
}

function escapeXml(text: string): string {
  return text.replace(/[<>&"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

function panelsOf(rows: readonly SummaryRow[]): Panel[] {
  const panels: Panel[] = [];
  const cells = [...new Map(rows.map((row) => [row.cell.name, row.cell])).values()];
  for (const cell of cells) {
    const cellRows = rows.filter((row) => row.cell.name === cell.name);
    panels.push({
      title: cell.latency ? `${cell.label}: p99 ms (shorter is better)` : `${cell.label}: tasks/s`,
      bars: cellRows.map((row) => ({
        name: row.contender,
        own: row.system === 'pullq',
        value: cell.latency ? row.p99 : row.rate,
        text: cell.latency ? formatMs : formatRate,
      })),
    });
  }
  for (const cell of cells.filter((cell) => cell.name.startsWith('drain'))) {
    panels.push({
      title: `${cell.label}: CPU seconds per 1,000 tasks, all processes (shorter is better)`,
      bars: rows
        .filter((row) => row.cell.name === cell.name)
        .map((row) => ({
          name: row.contender,
          own: row.system === 'pullq',
          value: row.cpuPer1k,
          text: formatCpu,
        })),
    });
  }
  return panels;
}

export function chartSvg(rows: readonly SummaryRow[], caption: string): string {
  const panels = panelsOf(rows);
  const parts: string[] = [];
  let y = 30;
  parts.push(`<text x="8" y="18" font-size="13" font-weight="bold">${escapeXml(caption)}</text>`);
  for (const panel of panels) {
    parts.push(
      `<text x="8" y="${y + 16}" font-size="12" font-weight="bold">${escapeXml(panel.title)}</text>`,
    );
    y += TITLE;
    const top = Math.max(0, ...panel.bars.map((bar) => bar.value?.max ?? 0));
    const scale = top > 0 ? BAR_WIDTH / top : 0;
    for (const bar of panel.bars) {
      const color = bar.own ? OWN_COLOR : PEER_COLOR;
      parts.push(
        `<text x="${LABEL_WIDTH - 6}" y="${y + 14}" font-size="11" text-anchor="end">${escapeXml(bar.name)}</text>`,
      );
      if (bar.value === null) {
        parts.push(
          `<text x="${LABEL_WIDTH}" y="${y + 14}" font-size="11" fill="#888">no valid run</text>`,
        );
      } else {
        const { median, min, max } = bar.value;
        const length = Math.max(1, median * scale);
        const whiskerY = y + ROW / 2;
        parts.push(
          `<rect x="${LABEL_WIDTH}" y="${y + 3}" width="${length.toFixed(1)}" height="${ROW - 6}" fill="${color}"/>`,
          `<line x1="${(LABEL_WIDTH + min * scale).toFixed(1)}" y1="${whiskerY}" x2="${(LABEL_WIDTH + max * scale).toFixed(1)}" y2="${whiskerY}" stroke="#222" stroke-width="1"/>`,
          `<text x="${(LABEL_WIDTH + Math.max(length, max * scale) + 6).toFixed(1)}" y="${y + 14}" font-size="11">${escapeXml(bar.text(median))}</text>`,
        );
      }
      y += ROW;
    }
    y += GAP;
  }
  const legend = y + 4;
  parts.push(
    `<rect x="8" y="${legend}" width="12" height="12" fill="${OWN_COLOR}"/>`,
    `<text x="24" y="${legend + 10}" font-size="11">pullq</text>`,
    `<rect x="70" y="${legend}" width="12" height="12" fill="${PEER_COLOR}"/>`,
    `<text x="86" y="${legend + 10}" font-size="11">peers</text>`,
    `<text x="140" y="${legend + 10}" font-size="11">bar: median of the runs; line: their min–max</text>`,
  );
  const height = legend + 24;
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${height}" viewBox="0 0 ${WIDTH} ${height}" font-family="sans-serif">`,
    `<rect width="${WIDTH}" height="${height}" fill="#fff"/>`,
    ...parts,
    '</svg>',
    '',
  ].join('\n');
}
