/// <reference lib="dom" />
/**
 * The dashboard's entry: signs in (or finds the session of this tab), draws the header, routes
 * by the URL's hash (`#/`, `#/queues/NAME`, `#/tokens`: nothing secret ever goes in the URL),
 * and runs the poll loop that refreshes the page on screen.
 *
 * The loop waits for one refresh to end before it plans the next: every REFRESH_MS, or three
 * times as long as the last refresh took (a slow server is not flooded), and not at all while
 * the tab is hidden.
 */
import { SIGNED_OUT_EVENT, type ApiError } from './api.ts';
import { clearAlert, clearAlerts, describeError, h, setText, showError } from './dom.ts';
import { OverviewPage } from './overview.ts';
import type { Page } from './page.ts';
import { QueuePage } from './queue-page.ts';
import { openSession, storeToken, storedToken, type Session } from './session.ts';
import { signInPage } from './sign-in.ts';
import { TokensPage } from './tokens-page.ts';

const REFRESH_MS = 1500;
const MAX_REFRESH_MS = 15_000;
const POLL_ALERT = 'poll';

const byId = <T extends HTMLElement>(id: string): T => document.getElementById(id) as T;
const main = byId('main');

let session: Session | null = null;
let page: Page | null = null;
let timer: ReturnType<typeof setTimeout> | undefined;
let refreshing = false;

function route(): Page | null {
  if (!session) return null;
  const hash = location.hash.replace(/^#/, '') || '/';
  const queue = /^\/queues\/([a-zA-Z0-9-]{1,100})$/.exec(hash);
  if (queue?.[1]) return new QueuePage(session, queue[1]);
  if (hash === '/tokens') return new TokensPage(session);
  return new OverviewPage(session);
}

function show(next: Page | null): void {
  page?.dispose();
  page = next;
  main.replaceChildren(...(next ? [next.element] : []));
  for (const link of document.querySelectorAll<HTMLAnchorElement>('[data-nav]')) {
    const current = (link.dataset['nav'] === 'tokens') === location.hash.startsWith('#/tokens');
    link.toggleAttribute('aria-current', current);
  }
  if (next) schedule(0);
}

/** Plans the next refresh; one at a time. */
function schedule(delay: number): void {
  clearTimeout(timer);
  if (!page || document.hidden) return;
  timer = setTimeout(() => void tick(), delay);
}

async function tick(): Promise<void> {
  // A refresh of the page left is still running: when it ends it starts this page's.
  if (refreshing || !page) return;
  refreshing = true;
  const current = page;
  const started = performance.now();
  try {
    await current.refresh();
    clearAlert(POLL_ALERT);
    setText(byId('live'), `updated ${new Date().toLocaleTimeString()}`);
  } catch (error) {
    if (current === page) showError(error, POLL_ALERT);
  } finally {
    refreshing = false;
  }
  const took = performance.now() - started;
  schedule(current === page ? Math.min(MAX_REFRESH_MS, Math.max(REFRESH_MS, 3 * took)) : 0);
}

function showHeader(): void {
  const who = byId('who');
  const signedIn = session !== null;
  byId('nav').hidden = !signedIn;
  byId('sign-out').hidden = !signedIn || !session?.who.auth;
  who.hidden = !signedIn;
  (document.querySelector('[data-nav="tokens"]') as HTMLElement).hidden = !session?.serverAdmin;
  if (!session) return;
  const { who: me } = session;
  who.replaceChildren(
    me.auth
      ? h(
          'span',
          { title: `roles ${me.roles.join(', ')} on ${me.queue}` },
          h('strong', {}, me.name ?? ''),
          ' ',
          ...me.roles.map((role) => h('span', { class: `badge role-${role}` }, role)),
          ' on ',
          h('code', {}, me.queue),
        )
      : h('span', { class: 'badge warn' }, 'no authentication'),
  );
}

function signOut(reason?: unknown): void {
  storeToken(null);
  session = null;
  clearTimeout(timer);
  page?.dispose();
  page = null;
  clearAlerts();
  showHeader();
  main.replaceChildren(
    signInPage(signIn, reason === undefined ? undefined : describeError(reason)),
  );
}

/** Checks the token with the server; on success keeps it for this tab and shows the page. */
async function signIn(token: string | null): Promise<void> {
  session = await openSession(token);
  if (token !== null) storeToken(token);
  showHeader();
  show(route());
}

async function start(): Promise<void> {
  setText(byId('server'), location.host);
  byId('sign-out').addEventListener('click', () => signOut());
  window.addEventListener('hashchange', () => show(route()));
  window.addEventListener(SIGNED_OUT_EVENT, (event) => {
    if (session) signOut((event as CustomEvent<ApiError>).detail);
  });
  document.addEventListener('visibilitychange', () => {
    if (!document.hidden) schedule(0);
  });
  document.addEventListener('keydown', (event) => {
    const target = event.target as HTMLElement;
    const typing = target.closest('input, textarea, select, dialog') !== null;
    if (event.key === '/' && !typing && page?.searchInput) {
      event.preventDefault();
      page.searchInput.focus();
    }
  });
  try {
    // A stored token, or none: a server without authentication answers whoami anyway.
    await signIn(storedToken());
  } catch (error) {
    // Without a stored token, a 401 only means "sign in": no need to say it.
    const expected = storedToken() === null && (error as ApiError).status === 401;
    signOut(expected ? undefined : error);
  }
}

void start();
