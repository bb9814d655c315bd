/**
 * The contenders of the side-by-side benchmark, by name. A module is imported only when one
 * of its contenders is wanted (producer and consumer processes load just theirs), and a
 * module not written yet is reported missing instead of failing the others.
 */
import type { Contender } from '../harness/contender.ts';

interface Entry {
  /** Relative to this file. */
  module: string;
  /** Export name -> contender name. */
  exports: Record<string, string>;
}

const ENTRIES: Entry[] = [
  {
    module: './pullq.ts',
    exports: {
      pullqSqlite: 'pullq-sqlite',
      pullqSqliteManual: 'pullq-sqlite-manual',
      pullqPostgres: 'pullq-postgres',
      pullqRedis: 'pullq-redis',
      pullqEmbedded: 'pullq-embedded',
    },
  },
  { module: './bullmq.ts', exports: { bullmq: 'bullmq', bullmqDefaults: 'bullmq-defaults' } },
  { module: './pg-boss.ts', exports: { pgBoss: 'pg-boss', pgBossDefaults: 'pg-boss-defaults' } },
];

/** The contenders `--quick` runs, and the full run's headline: pullq's server on SQLite and
 * each peer with its documented fast settings. */
export const HEADLINE = ['pullq-sqlite', 'bullmq', 'pg-boss'];

/** Every contender name, in the order tables list them. */
export const CONTENDER_NAMES: string[] = ENTRIES.flatMap((entry) => Object.values(entry.exports));

function entryOf(name: string): { entry: Entry; exportName: string } {
  for (const entry of ENTRIES) {
    for (const [exportName, contender] of Object.entries(entry.exports)) {
      if (contender === name) return { entry, exportName };
    }
  }
  throw new Error(`no contender named ${name}; the known ones: ${CONTENDER_NAMES.join(', ')}`);
}

function isContender(value: unknown): value is Contender {
  const candidate = value as Partial<Contender> | null;
  return (
    typeof candidate === 'object' &&
    candidate !== null &&
    typeof candidate.info?.name === 'string' &&
    typeof candidate.prepare === 'function' &&
    typeof candidate.producer === 'function' &&
    typeof candidate.consumer === 'function'
  );
}

/** Thrown when the module of a contender does not exist (yet). */
export class ContenderMissing extends Error {}

export async function loadContender(name: string): Promise<Contender> {
  const { entry, exportName } = entryOf(name);
  const href = new URL(entry.module, import.meta.url).href;
  let module: Record<string, unknown>;
  try {
    module = (await import(href)) as Record<string, unknown>;
  } catch (error) {
    const code = (error as { code?: unknown }).code;
    if (
      code === 'ERR_MODULE_NOT_FOUND' &&
      String((error as Error).message).includes(entry.module.slice(2))
    ) {
      throw new ContenderMissing(
        `${name}: bench/contenders/${entry.module.slice(2)} does not exist yet`,
      );
    }
    throw error;
  }
  const contender = module[exportName];
  if (!isContender(contender)) {
    throw new Error(`bench/contenders/${entry.module.slice(2)} exports no contender ${exportName}`);
  }
  if (contender.info.name !== name) {
    throw new Error(`${exportName} is named ${contender.info.name}, the registry expects ${name}`);
  }
  return contender;
}

/** The named contenders that exist, and the names whose modules are not written yet. */
export async function loadContenders(
  names: readonly string[],
): Promise<{ contenders: Contender[]; missing: string[] }> {
  const contenders: Contender[] = [];
  const missing: string[] = [];
  for (const name of names) {
    try {
      contenders.push(await loadContender(name));
    } catch (error) {
      if (!(error instanceof ContenderMissing)) throw error;
      missing.push(error.message);
    }
  }
  return { contenders, missing };
}
