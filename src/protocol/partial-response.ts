/**
 * Google's `fields` partial responses: `kind,items(id,leaseTimestamp),stats/totalTasks`.
 * A comma-separated list of field paths; `a/b` selects `b` inside `a`; `a(b,c)` selects `b`
 * and `c` inside `a`; `*` selects everything. Arrays are walked through. A malformed selector
 * is a 400, as Google answered it.
 */
import { PullqError } from './errors.ts';

/** Field name -> everything under it (`true`) or a narrower selection. */
export type FieldSelection = Map<string, FieldSelection | true>;

export function parseFields(text: string): FieldSelection {
  const parser = new SelectorParser(text);
  const selection = parser.selection();
  parser.end();
  return selection;
}

/** Keeps only the selected fields of a JSON value (arrays: of each element). */
export function applyFields(value: unknown, selection: FieldSelection): unknown {
  if (Array.isArray(value)) return value.map((item) => applyFields(item, selection));
  if (typeof value !== 'object' || value === null || selection.has('*')) return value;
  const source = value as Record<string, unknown>;
  const picked: Record<string, unknown> = {};
  for (const [name, sub] of selection) {
    if (!Object.hasOwn(source, name)) continue;
    picked[name] = sub === true ? source[name] : applyFields(source[name], sub);
  }
  return picked;
}

class SelectorParser {
  readonly #text: string;
  #at = 0;

  constructor(text: string) {
    this.#text = text;
  }

  selection(): FieldSelection {
    const selection: FieldSelection = new Map();
    do {
      const [name, sub] = this.#item();
      merge(selection, name, sub);
    } while (this.#take(','));
    return selection;
  }

  end(): void {
    if (this.#at !== this.#text.length) this.#fail();
  }

  #item(): [string, FieldSelection | true] {
    const name = this.#name();
    if (this.#take('/')) {
      const [childName, childSub] = this.#item();
      return [name, new Map([[childName, childSub]])];
    }
    if (this.#take('(')) {
      const sub = this.selection();
      if (!this.#take(')')) this.#fail();
      return [name, sub];
    }
    return [name, true];
  }

  #name(): string {
    const match = /^\s*([A-Za-z0-9_$]+|\*)\s*/.exec(this.#text.slice(this.#at));
    if (!match?.[1]) this.#fail();
    this.#at += match[0].length;
    return match[1];
  }

  #take(char: string): boolean {
    if (this.#text[this.#at] !== char) return false;
    this.#at += 1;
    return true;
  }

  #fail(): never {
    throw new PullqError(
      'invalid_argument',
      `Invalid field selection ${JSON.stringify(this.#text.slice(0, 200))} (at character ${this.#at})`,
      { details: { field: 'fields', reason: 'invalidParameter' } },
    );
  }
}

function merge(selection: FieldSelection, name: string, sub: FieldSelection | true): void {
  const existing = selection.get(name);
  if (existing === undefined) selection.set(name, sub);
  else if (existing === true || sub === true) selection.set(name, true);
  else for (const [childName, childSub] of sub) merge(existing, childName, childSub);
}
