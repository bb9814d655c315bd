/// <reference lib="dom" />
/**
 * The tokens page (`#/tokens`), for admins on `*` only: the tokens by name (never the tokens
 * themselves: the server keeps only hashes), a form to create one, shown once with a copy
 * button, and revocation, which takes effect at once.
 */
import type { TokenInfo } from './api.ts';
import { field, h, openDialog, runAction, setText, showNotice } from './dom.ts';
import { formatRelative, formatTime } from './format.ts';
import type { Page } from './page.ts';
import type { Session } from './session.ts';

const ROLES = ['producer', 'consumer', 'admin'] as const;
const EXPIRIES: readonly { label: string; seconds?: number }[] = [
  { label: 'never' },
  { label: '1 hour', seconds: 3600 },
  { label: '1 day', seconds: 86_400 },
  { label: '30 days', seconds: 30 * 86_400 },
  { label: '1 year', seconds: 365 * 86_400 },
];

export class TokensPage implements Page {
  readonly element: HTMLElement;
  readonly #session: Session;
  readonly #tbody = h('tbody');
  readonly #created = h('div', { class: 'new-token hidden', role: 'status' });
  #shown = '';

  constructor(session: Session) {
    this.#session = session;
    if (!session.serverAdmin) {
      this.element = h(
        'div',
        { class: 'page' },
        h('h1', {}, 'Tokens'),
        h(
          'p',
          { class: 'empty' },
          'Managing tokens needs the admin role on every queue (*). This token does not have it.',
        ),
      );
      return;
    }
    this.element = h(
      'div',
      { class: 'page tokens-page' },
      h('div', { class: 'page-head' }, h('h1', {}, 'Tokens')),
      this.#form(),
      this.#created,
      h(
        'div',
        { class: 'table-wrap card' },
        h(
          'table',
          { class: 'table', id: 'token-table' },
          h(
            'thead',
            {},
            h(
              'tr',
              {},
              ...['Name', 'Roles', 'Queues', 'Created', 'Expires', ''].map((label) =>
                h('th', { scope: 'col' }, label),
              ),
            ),
          ),
          this.#tbody,
        ),
      ),
    );
  }

  async refresh(): Promise<void> {
    if (!this.#session.serverAdmin) return;
    const tokens = await this.#session.api.tokens();
    // The list changes rarely: it is redrawn only when it did.
    const key = JSON.stringify(tokens);
    if (key === this.#shown) return;
    this.#shown = key;
    this.#tbody.replaceChildren(...tokens.map((token) => this.#row(token)));
  }

  dispose(): void {}

  #row(token: TokenInfo): HTMLTableRowElement {
    const you = token.name === this.#session.who.name;
    const revoke = h('button', { type: 'button', class: 'button danger-outline small' }, 'Revoke');
    revoke.addEventListener('click', () => this.#revoke(token.name, you));
    return h(
      'tr',
      { 'data-token': token.name },
      h('td', {}, token.name, you ? h('span', { class: 'badge' }, 'you') : null),
      h('td', {}, ...token.roles.map((role) => h('span', { class: `badge role-${role}` }, role))),
      h('td', { class: 'mono' }, token.queue),
      h('td', { title: formatTime(token.createdAt) }, formatRelative(token.createdAt)),
      h(
        'td',
        token.expiresAt === null ? {} : { title: formatTime(token.expiresAt) },
        token.expiresAt === null ? 'never' : formatRelative(token.expiresAt),
      ),
      h('td', { class: 'num' }, revoke),
    );
  }

  #form(): HTMLElement {
    const name = h('input', {
      class: 'input',
      name: 'name',
      required: true,
      pattern: '[a-zA-Z0-9_.@\\-]{1,100}',
      autocomplete: 'off',
      placeholder: 'worker-eu',
    });
    const roles = ROLES.map((role) =>
      h('input', { type: 'checkbox', name: 'role', value: role, checked: role === 'consumer' }),
    );
    const queue = h('input', {
      class: 'input',
      name: 'queue',
      required: true,
      pattern: '[a-zA-Z0-9*\\-]{1,100}',
      value: '*',
    });
    const expires = h(
      'select',
      { class: 'input', name: 'expires' },
      ...EXPIRIES.map((expiry, index) => h('option', { value: index }, expiry.label)),
    );
    const submit = h('button', { type: 'submit', class: 'button primary' }, 'Create token');
    const form = h(
      'form',
      { class: 'card token-form', 'aria-label': 'create a token' },
      field('Name', name),
      h(
        'fieldset',
        { class: 'field' },
        h('legend', { class: 'field-label' }, 'Roles'),
        ...roles.map((input, index) =>
          h('label', { class: 'check' }, input, ` ${ROLES[index] ?? ''}`),
        ),
      ),
      field('Queues', queue, '* for all, a name, or a glob: emails-*'),
      field('Expires', expires),
      submit,
    );
    form.addEventListener('submit', (event) => {
      event.preventDefault();
      const chosen = roles.filter((input) => input.checked).map((input) => input.value);
      const expiry = EXPIRIES[Number(expires.value)];
      runAction(submit, async () => {
        if (chosen.length === 0) throw new Error('Choose at least one role');
        const created = await this.#session.api.createToken({
          name: name.value.trim(),
          roles: chosen,
          queue: queue.value.trim(),
          ...(expiry?.seconds === undefined ? {} : { expiresInSeconds: expiry.seconds }),
        });
        this.#showCreated(created.name, created.token);
        name.value = '';
        await this.refresh();
      });
    });
    return form;
  }

  /** The new token, shown this once, with a copy button. */
  #showCreated(name: string, token: string): void {
    const value = h('input', {
      class: 'input mono',
      readonly: true,
      value: token,
      'aria-label': `token ${name}`,
    });
    const copy = h('button', { type: 'button', class: 'button primary' }, 'Copy');
    copy.addEventListener('click', () => {
      value.select();
      navigator.clipboard.writeText(token).then(
        () => setText(copy, 'Copied'),
        () => setText(copy, 'Press Ctrl+C'),
      );
    });
    this.#created.replaceChildren(
      h(
        'p',
        {},
        h('strong', {}, `Token ${name} created. `),
        'Copy it now: it is shown this once, and the server keeps only its hash.',
      ),
      h('div', { class: 'copy-row' }, value, copy),
    );
    this.#created.classList.remove('hidden');
    value.select();
  }

  #revoke(name: string, you: boolean): void {
    openDialog({
      title: `Revoke ${name}?`,
      body: [
        h(
          'p',
          {},
          `Every request with this token is refused from now on.${you ? ' It is the token you are signed in with: you will be signed out.' : ''}`,
        ),
      ],
      submitLabel: 'Revoke',
      danger: true,
      onSubmit: async () => {
        await this.#session.api.revokeToken(name);
        showNotice(`Token ${name} revoked`);
        this.#created.classList.add('hidden');
        await this.refresh();
      },
    });
  }
}
