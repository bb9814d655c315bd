/**
 * fast-check arbitraries of the values inside hostile requests, drawn from JSON schemas (the
 * v1 routes' own, and a v1beta2 Task described the same way): most of the time a value the
 * schema allows, so requests get past validation and reach the store; otherwise anything at
 * all: a wrong type, a number past 2^53 or past a double, a nasty string, nesting thousands
 * deep (./nasty-values.ts). RawJson carries JSON texts JSON.stringify cannot write.
 */
import fc from 'fast-check';
import { FUZZ_QUEUES } from './fuzz-state.ts';
import { NASTY_JSON_VALUES, NASTY_STRINGS } from './nasty-values.ts';

/** A JSON text put where a value goes, written as is (`1e400` is no JSON.stringify output). */
export class RawJson {
  readonly text: string;
  constructor(text: string) {
    this.text = text;
  }
}

/** JSON text of a value that may hold RawJson leaves; own `__proto__` keys are kept. */
export function toJsonText(value: unknown): string {
  if (value instanceof RawJson) return value.text;
  if (Array.isArray(value)) return `[${value.map(toJsonText).join(',')}]`;
  if (typeof value === 'object' && value !== null) {
    const entries = Object.entries(value).map(
      ([key, item]) => `${JSON.stringify(key)}:${toJsonText(item)}`,
    );
    return `{${entries.join(',')}}`;
  }
  return JSON.stringify(value) ?? 'null';
}

export const nastyString = fc.oneof(
  { weight: 3, arbitrary: fc.constantFrom(...NASTY_STRINGS) },
  { weight: 2, arbitrary: fc.string({ unit: 'binary', maxLength: 40 }) },
  { weight: 1, arbitrary: fc.string({ unit: 'grapheme', maxLength: 40 }) },
);

/** Nesting of a given depth, as text: arrays or objects, thousands deep at times. */
const deepNesting = fc
  .tuple(fc.integer({ min: 1, max: 20_000 }), fc.boolean())
  .map(
    ([depth, arrays]) =>
      new RawJson(
        arrays
          ? '['.repeat(depth) + ']'.repeat(depth)
          : '{"a":'.repeat(depth) + '1' + '}'.repeat(depth),
      ),
  );

/** Anything at all in place of a value. */
export const hostileValue: fc.Arbitrary<unknown> = fc.oneof(
  { weight: 3, arbitrary: fc.constantFrom(...NASTY_JSON_VALUES).map((text) => new RawJson(text)) },
  { weight: 2, arbitrary: nastyString },
  { weight: 2, arbitrary: fc.jsonValue({ maxDepth: 3 }) },
  {
    weight: 1,
    arbitrary: fc
      .double()
      .map((value) => new RawJson(Number.isFinite(value) ? String(value) : '1e999')),
  },
  {
    weight: 1,
    arbitrary: fc
      .bigInt({ min: -(2n ** 70n), max: 2n ** 70n })
      .map((value) => new RawJson(String(value))),
  },
  { weight: 1, arbitrary: deepNesting },
);

export interface Schema {
  description?: string;
  type?: string | string[];
  properties?: Record<string, Schema>;
  required?: string[];
  items?: Schema;
  anyOf?: Schema[];
  enum?: unknown[];
  pattern?: string;
  maxLength?: number;
  minimum?: number;
  maximum?: number;
  minItems?: number;
  maxItems?: number;
}

export const QUEUE_PATTERN = '^[a-zA-Z0-9-]{1,100}$';
export const knownIds = fc.integer({ min: 0, max: 50 }).map((n) => `t${n}`);

/** A value the schema allows, mostly; known queue names and ids where the schema takes one. */
export function allowed(schema: Schema, depth: number): fc.Arbitrary<unknown> {
  if (schema.anyOf) return fc.oneof(...schema.anyOf.map((branch) => allowed(branch, depth)));
  if (schema.enum) return fc.constantFrom(...schema.enum);
  switch (Array.isArray(schema.type) ? schema.type[0] : schema.type) {
    case 'string':
      if (schema.pattern === QUEUE_PATTERN) {
        return fc.oneof(
          fc.constantFrom(...FUZZ_QUEUES),
          fc.stringMatching(new RegExp(schema.pattern)),
        );
      }
      if (schema.pattern?.includes('_-]{1,500}'))
        return fc.oneof(knownIds, fc.stringMatching(new RegExp(schema.pattern)));
      if (schema.pattern) return fc.stringMatching(new RegExp(schema.pattern));
      if (schema.description?.includes('base64')) {
        return fc.oneof(
          fc.base64String({ maxLength: 80 }),
          fc.base64String({ maxLength: 80 }).map(webSafe),
        );
      }
      return fc.oneof(
        fc.string({ maxLength: Math.min(schema.maxLength ?? 60, 60) }),
        fc.base64String({ maxLength: 80 }),
      );
    case 'integer':
      return fc.integer({
        min: schema.minimum ?? -(2 ** 31),
        max: Math.min(schema.maximum ?? 2 ** 31, 2 ** 31),
      });
    case 'number':
      return fc.oneof(
        fc.integer({ min: schema.minimum ?? 0, max: schema.maximum ?? 1000 }),
        fc.double({ min: schema.minimum ?? 0, max: schema.maximum ?? 1000, noNaN: true }),
      );
    case 'boolean':
      return fc.boolean();
    case 'null':
      return fc.constant(null);
    case 'array':
      return fc.array(fuzzedValue(schema.items ?? {}, depth + 1), {
        minLength: 0,
        maxLength: Math.min(schema.maxItems ?? 4, 4),
      });
    case 'object':
      return fuzzedObject(schema, depth + 1);
    default:
      return hostileValue;
  }
}

/**
 * A field's value: allowed nine times in ten, hostile otherwise. A request has several
 * fields: at one in five, four of five requests failed validation and few reached the store.
 */
export function fuzzedValue(schema: Schema, depth = 0): fc.Arbitrary<unknown> {
  if (depth > 3) return hostileValue;
  return fc.oneof(
    { weight: 9, arbitrary: allowed(schema, depth) },
    { weight: 1, arbitrary: hostileValue },
  );
}

/** An object of the schema's fields (required ones mostly there), sometimes with extra keys. */
function fuzzedObject(schema: Schema, depth: number): fc.Arbitrary<Record<string, unknown>> {
  const properties = schema.properties ?? {};
  const required = new Set(schema.required ?? []);
  const fields = Object.entries(properties).map(([name, field]) =>
    fc
      .tuple(fc.constant(name), fuzzedValue(field, depth), fc.integer({ min: 0, max: 19 }))
      .map(([key, value, roll]) =>
        roll < (required.has(key) ? 18 : 8) ? ([key, value] as const) : null,
      ),
  );
  const extra = rarely(fc.tuple(nastyString, hostileValue), 8);
  return fc.tuple(fc.tuple(...fields), extra).map(([entries, added]) => {
    const object: Record<string, unknown> = {};
    for (const entry of entries) if (entry) define(object, entry[0], entry[1]);
    if (added) define(object, added[0], added[1]);
    return object;
  });
}

const webSafe = (base64: string): string => base64.replace(/\+/g, '-').replace(/\//g, '_');

/** The value one time in `n`, null otherwise (fc.option's `freq` is the other way round). */
export function rarely<T>(arbitrary: fc.Arbitrary<T>, n: number): fc.Arbitrary<T | null> {
  return fc.oneof({ weight: n - 1, arbitrary: fc.constant(null) }, { weight: 1, arbitrary });
}

/** Sets an own property, `__proto__` included (an assignment would set the prototype). */
function define(object: Record<string, unknown>, key: string, value: unknown): void {
  Object.defineProperty(object, key, {
    value,
    enumerable: true,
    writable: true,
    configurable: true,
  });
}
