/// <reference lib="dom" />
/**
 * The sign-in form: a token pasted in a password field. The page checks it with
 * `GET /v1/whoami` before keeping it (in sessionStorage, for this tab only).
 */
import { describeError, h, setText } from './dom.ts';

export function signInPage(signIn: (token: string) => Promise<void>, reason?: string): HTMLElement {
  const token = h('input', {
    type: 'password',
    class: 'input mono',
    name: 'token',
    required: true,
    autocomplete: 'off',
    spellcheck: 'false',
    placeholder: 'pq_…',
    'aria-label': 'token',
  });
  const error = h('p', { class: 'dialog-error', role: 'alert' }, reason ?? '');
  const submit = h('button', { type: 'submit', class: 'button primary' }, 'Sign in');
  const form = h(
    'form',
    { class: 'card sign-in', 'aria-label': 'sign in' },
    h('h1', {}, 'Sign in to pullq'),
    h(
      'p',
      { class: 'muted' },
      'Paste an access token. The first start of pullq serve writes an admin token to the credentials file (~/.config/pullq/credentials.json); pullq token create makes others. The token stays in this tab only.',
    ),
    token,
    error,
    submit,
  );
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    submit.disabled = true;
    setText(error, '');
    signIn(token.value.trim()).catch((failure: unknown) => {
      setText(error, describeError(failure));
      submit.disabled = false;
      token.select();
    });
  });
  queueMicrotask(() => token.focus());
  return h('div', { class: 'page sign-in-page' }, form);
}
