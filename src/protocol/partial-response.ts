/**
 * Google's `fields` partial responses: `kind,items(id,leaseTimestamp),stats/totalTasks`.
 * A comma-separated list of field paths; `a/b` selects `b` inside `a`; `a(b,c)` selects `b`
 * and `c` inside `a`; `*` selects everything. Arrays are walked through. A malformed selector
 * is a 400, as Google answered it.
 */
import { PullqError } from './errors.ts';

/**
 * Deepest selector accepted. pullq's answers nest three levels (`items(tag)` is two); the
 * parser recurses once per level, and a 16 KiB query string of `a(a(a(...` overflowed the
 * stack at about 3,000 levels (a 500 until this limit).
 */
export const MAX_SELECTOR_DEPTH = 32;

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
  #depth = 0;

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
      const [childName, childSub] = this.#nested(() => this.#item());
      return [name, new Map([[childName, childSub]])];
    }
    if (this.#take('(')) {
      const sub = this.#nested(() => this.selection());
      if (!this.#take(')')) this.#fail();
      return [name, sub];
    }
    return [name, true];
  }

  #nested<T>(parse: () => T): T {
    if (++this.#depth > MAX_SELECTOR_DEPTH) {
      this.#fail(`nested deeper than ${MAX_SELECTOR_DEPTH} levels`);
    }
    const parsed = parse();
    this.#depth -= 1;
    return parsed;
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

  #fail(why = `at character ${this.#at}`): never {
    throw new PullqError(
      'invalid_argument',
      `Invalid field selection ${JSON.stringify(this.#text.slice(0, 200))} (${why})`,
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
