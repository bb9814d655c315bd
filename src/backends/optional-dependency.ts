/**
 * Drivers for PostgreSQL, Redis, AMQP and NATS are optional peer dependencies: loaded only when
 * a URL asks for their backend, with an error naming the package to install when missing.
 */
import { PullqError } from '../protocol/errors.ts';

function isModuleNotFound(error: unknown, pkg: string): boolean {
  if (typeof error !== 'object' || error === null) return false;
  const { code, message } = error as { code?: unknown; message?: unknown };
  return (
    (code === 'ERR_MODULE_NOT_FOUND' || code === 'MODULE_NOT_FOUND') &&
    typeof message === 'string' &&
    message.includes(pkg)
  );
}

/** `await loadOptional<typeof import('pg')>('pg', 'the postgres backend')`. */
export async function loadOptional<T>(pkg: string, usedBy: string): Promise<T> {
  try {
    return (await import(pkg)) as T;
  } catch (error) {
    if (isModuleNotFound(error, pkg)) {
      throw new PullqError(
        'unsupported',
        `${usedBy} needs the package ${pkg}, which is not installed: run npm install ${pkg}`,
        { details: { package: pkg } },
      );
    }
    throw error;
  }
}
