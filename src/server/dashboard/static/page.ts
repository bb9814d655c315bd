/// <reference lib="dom" />
/**
 * What every page of the dashboard is to the router (main.ts): an element to show, a refresh
 * the poll loop calls every one to two seconds, and a dispose when the page is left.
 */
export interface Page {
  readonly element: HTMLElement;
  /** Reads what the page shows and updates it in place; errors reach the poll loop. */
  refresh(): Promise<void>;
  dispose(): void;
  /** The element "/" focuses, if any. */
  readonly searchInput?: HTMLInputElement;
}
