/// <reference lib="dom" />
/// <reference lib="dom.iterable" />
/**
 * Small DOM helpers for the dashboard: an element builder (text is always set as text, never
 * parsed as HTML, so task payloads and names cannot inject markup), in-place updates that
 * touch the DOM only when a value changed (no flicker on refresh), the alert area, and
 * modal dialogs built on <dialog> (focus stays inside, Escape closes).
 */
import { ApiError } from './api.ts';

type Child = Node | string | null | undefined | false;
type Props = Record<string, string | number | boolean | null | undefined | EventListener>;

/** `h('button', { class: 'button', onclick: go }, 'Go')`. Attributes; `on*` are listeners. */
export function h<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  props: Props = {},
  ...children: Child[]
): HTMLElementTagNameMap[K] {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(props)) {
    if (value === null || value === undefined || value === false) continue;
    if (typeof value === 'function') {
      element.addEventListener(name.slice(2), value);
    } else if (name === 'value' && 'value' in element) {
      (element as HTMLInputElement).value = String(value);
    } else {
      element.setAttribute(name, value === true ? '' : String(value));
    }
  }
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    element.append(child);
  }
  return element;
}

/** Sets the text only when it changed: refreshes do not redraw what stayed the same. */
export function setText(node: Element, text: string): void {
  if (node.textContent !== text) node.textContent = text;
}

/** Sets or removes a class only when needed. */
export function setClass(node: Element, name: string, on: boolean): void {
  if (node.classList.contains(name) !== on) node.classList.toggle(name, on);
}

export function setAttr(node: Element, name: string, value: string | null): void {
  if (value === null) {
    if (node.hasAttribute(name)) node.removeAttribute(name);
  } else if (node.getAttribute(name) !== value) {
    node.setAttribute(name, value);
  }
}

/** What an error says, for people: the API's code and message. */
export function describeError(error: unknown): string {
  if (error instanceof ApiError) return `${error.message} (${error.code})`;
  return error instanceof Error ? error.message : String(error);
}

const alerts = (): HTMLElement => document.getElementById('alerts') as HTMLElement;

/**
 * Shows an error until dismissed. With a `key`, a later alert of the same key replaces it
 * and `clearAlert(key)` removes it (the refresh loop's "cannot reach the server").
 */
export function showError(error: unknown, key?: string): void {
  const text = describeError(error);
  const existing = key ? alerts().querySelector<HTMLElement>(`[data-key="${key}"]`) : null;
  if (existing) {
    setText(existing.querySelector('.alert-text') as HTMLElement, text);
    return;
  }
  const alert = h(
    'div',
    { class: 'alert error', 'data-key': key },
    h('span', { class: 'alert-text' }, text),
    h(
      'button',
      {
        type: 'button',
        class: 'button ghost small',
        'aria-label': 'dismiss',
        onclick: () => alert.remove(),
      },
      '×',
    ),
  );
  alerts().append(alert);
  if (!key) setTimeout(() => alert.remove(), 15_000);
}

/** A short confirmation that goes away by itself. */
export function showNotice(text: string): void {
  const notice = h('div', { class: 'alert notice', role: 'status' }, h('span', {}, text));
  alerts().append(notice);
  setTimeout(() => notice.remove(), 4000);
}

export function clearAlert(key: string): void {
  alerts().querySelector(`[data-key="${key}"]`)?.remove();
}

export function clearAlerts(): void {
  alerts().replaceChildren();
}

/**
 * A modal dialog with a form. `onSubmit` runs on the primary button; the dialog closes when
 * it resolves, and shows the error inside when it throws (the form stays filled in).
 */
export function openDialog(options: {
  title: string;
  body: Child[];
  submitLabel: string;
  danger?: boolean;
  /** Called on each input; false disables the primary button (typed confirmations). */
  canSubmit?: () => boolean;
  onSubmit: () => Promise<void>;
}): HTMLDialogElement {
  const error = h('p', { class: 'dialog-error', role: 'alert' });
  const submit = h(
    'button',
    { type: 'submit', class: options.danger ? 'button danger' : 'button primary' },
    options.submitLabel,
  );
  const form = h(
    'form',
    { method: 'dialog' },
    h('h2', {}, options.title),
    ...options.body,
    error,
    h(
      'div',
      { class: 'dialog-buttons' },
      h(
        'button',
        { type: 'button', class: 'button ghost', onclick: () => dialog.close() },
        'Cancel',
      ),
      submit,
    ),
  );
  const dialog = h('dialog', { class: 'dialog' }, form);
  const update = (): void => {
    submit.disabled = options.canSubmit ? !options.canSubmit() : false;
  };
  form.addEventListener('input', update);
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    submit.disabled = true;
    setText(error, '');
    options.onSubmit().then(
      () => dialog.close(),
      (failure: unknown) => {
        setText(error, describeError(failure));
        update();
      },
    );
  });
  dialog.addEventListener('close', () => dialog.remove());
  document.body.append(dialog);
  update();
  dialog.showModal();
  return dialog;
}

/** A labelled form field. */
export function field(label: string, input: HTMLElement, hint?: string): HTMLElement {
  return h(
    'label',
    { class: 'field' },
    h('span', { class: 'field-label' }, label),
    input,
    hint ? h('span', { class: 'field-hint' }, hint) : null,
  );
}

/** Runs an action from a button: disabled while it runs, its error shown. */
export function runAction(button: HTMLButtonElement | null, action: () => Promise<void>): void {
  if (button) button.disabled = true;
  action()
    .catch((error: unknown) => showError(error))
    .finally(() => {
      if (button) button.disabled = false;
    });
}
