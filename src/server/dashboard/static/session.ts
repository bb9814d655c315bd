/// <reference lib="dom" />
/**
 * The signed-in token and what it may do. The token lives in sessionStorage only: it is gone
 * when the tab closes, is never put in a URL, and is sent nowhere but this server's API.
 *
 * What the page offers follows `GET /v1/whoami`: an action the token's roles do not allow is
 * not shown. The server still checks every call; a 403 that happens anyway is shown as is.
 */
import { Api, type Whoami } from './api.ts';

const TOKEN_KEY = 'pullq.token';

export class Session {
  readonly api: Api;
  readonly who: Whoami;
  readonly #actions: ReadonlySet<string>;

  constructor(api: Api, who: Whoami) {
    this.api = api;
    this.who = who;
    this.#actions = new Set(who.actions);
  }

  /** Whether the token's roles allow `action` (on the queues its pattern covers). */
  can(action: string): boolean {
    return this.#actions.has(action);
  }

  /** Admin on `*`: the tokens page. */
  get serverAdmin(): boolean {
    return this.who.serverAdmin;
  }
}

export function storedToken(): string | null {
  try {
    return sessionStorage.getItem(TOKEN_KEY);
  } catch {
    return null;
  }
}

export function storeToken(token: string | null): void {
  if (token === null) sessionStorage.removeItem(TOKEN_KEY);
  else sessionStorage.setItem(TOKEN_KEY, token);
}

/** Checks a token with the server; resolves with the session or rejects with the API's error. */
export async function openSession(token: string | null): Promise<Session> {
  const api = new Api(token);
  return new Session(api, await api.whoami());
}
