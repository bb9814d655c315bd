/**
 * How a failed command ends: one line `error: <code>: <message>`, one line saying what to do,
 * exit code 1 (2 for usage errors, which commander reports itself).
 */
import { isPullqError, type ErrorCode } from '../protocol/errors.ts';

/** A command line that parses but does not make sense (exit code 2, like commander's own). */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}

/** Where the failure happened, for the hint ("is `pullq serve` running at URL?"). */
export interface ErrorContext {
  server?: string;
  command?: string;
  /** Where the token sent came from; null: none was sent. */
  tokenSource?: 'option' | 'environment' | 'file' | null;
  /** The credentials file looked at. */
  credentialsFile?: string;
}

/** The first `code` found along the `cause` chain that looks like a system or undici code. */
export function networkCode(error: unknown): string | null {
  const seen = new Set<unknown>();
  let current: unknown = error;
  while (current instanceof Error && !seen.has(current)) {
    seen.add(current);
    const code = (current as { code?: unknown }).code;
    if (typeof code === 'string' && /^(E[A-Z]+|UND_ERR_[A-Z_]+)$/.test(code)) return code;
    const inner = (current as { errors?: unknown }).errors;
    if (Array.isArray(inner)) {
      const found = inner.map(networkCode).find((value) => value !== null);
      if (found) return found;
    }
    current = current.cause;
  }
  return null;
}

function networkHint(code: string, server: string): string | null {
  switch (code) {
    case 'ECONNREFUSED':
      return `nothing answers at ${server}: is \`pullq serve\` running there? (set the address with --server or PULLQ_SERVER)`;
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return `the host of ${server} is not known: check --server or PULLQ_SERVER`;
    case 'ECONNRESET':
    case 'EPIPE':
    case 'UND_ERR_SOCKET':
      return `the connection to ${server} broke: the server may have stopped or restarted; try again`;
    case 'ETIMEDOUT':
    case 'UND_ERR_CONNECT_TIMEOUT':
    case 'UND_ERR_HEADERS_TIMEOUT':
      return `${server} did not answer in time: check that it is up and reachable`;
    default:
      return null;
  }
}

const HINTS: Partial<Record<ErrorCode, (context: ErrorContext) => string>> = {
  invalid_argument: ({ command }) => `see \`pullq ${command ?? ''} --help\``.replace('  ', ' '),
  malformed_request: () => 'the server could not read the request; is --server a pullq server?',
  unauthenticated: unauthenticatedHint,
  permission_denied: () =>
    "this token's roles or queue pattern do not allow it: use a token that does, or ask an admin for one (`pullq token create --role ... --queue ...`; `pullq token list` shows each token's roles and queue)",
  queue_not_found: () => '`pullq queue list` shows the queues; `pullq queue create NAME` makes one',
  task_not_found: () => '`pullq list QUEUE` shows the tasks of a queue',
  token_not_found: () => '`pullq token list` shows the tokens by name',
  route_not_found: ({ server }) => `is ${server ?? 'the server'} a pullq server of this version?`,
  already_exists: () => 'choose another name, or wait for the dedup window to pass',
  lease_lost: () =>
    'the lease ran out or the task was leased again; lease it again with `pullq lease`',
  payload_too_large: () =>
    'payloads are limited to 1 MiB; store big data elsewhere and queue a reference',
  rate_limited: () => 'wait a moment and try again',
  unsupported: () => 'this server or backend does not offer it',
  unavailable: ({ command }) =>
    command === 'serve' || command === 'migrate'
      ? 'the store cannot be used as it is: do what the message says, then start again'
      : 'the server is shutting down or its store is unreachable; try again shortly',
  timeout: () => 'try again; if it keeps happening, check the server',
  internal: () => 'the server failed unexpectedly; its log says why',
};

function unauthenticatedHint({ server, tokenSource, credentialsFile }: ErrorContext): string {
  const login = `\`pullq login --server ${server ?? 'URL'}\``;
  switch (tokenSource) {
    case 'option':
      return `the token given with --token was refused (revoked, expired or mistyped); pass a valid one, or run ${login}`;
    case 'environment':
      return `the token in PULLQ_TOKEN was refused (revoked, expired or mistyped); set a valid one, or unset it and run ${login}`;
    case 'file':
      return `the token saved in ${credentialsFile ?? 'the credentials file'} was refused (revoked or expired); run ${login} with a valid one`;
    default:
      return `this server needs a token: run ${login}, or pass --token or PULLQ_TOKEN`;
  }
}

/** Prints the error and its hint on stderr; returns the exit code. */
export function reportError(error: unknown, context: ErrorContext): number {
  if (error instanceof UsageError) {
    process.stderr.write(`error: usage: ${error.message}\n`);
    if (context.command) process.stderr.write(`hint: see \`pullq ${context.command} --help\`\n`);
    return 2;
  }
  const network = networkCode(error);
  const server = context.server ?? 'the server';
  // Only a command that talks to a pullq server gets advice about reaching one: `serve` failing
  // to reach its own PostgreSQL or Redis has the store's message instead.
  const networkAdvice =
    network && context.server !== undefined ? networkHint(network, server) : null;
  if (isPullqError(error)) {
    process.stderr.write(`error: ${error.code}: ${error.message}\n`);
    const hint = networkAdvice ?? HINTS[error.code]?.(context);
    if (hint) process.stderr.write(`hint: ${hint}\n`);
    return 1;
  }
  if (networkAdvice && network) {
    process.stderr.write(`error: unavailable: cannot reach ${server} (${network})\n`);
    process.stderr.write(`hint: ${networkAdvice}\n`);
    return 1;
  }
  const message = error instanceof Error ? error.message : String(error);
  const code = network ?? (error as { code?: unknown } | null)?.code;
  process.stderr.write(`error: ${typeof code === 'string' ? code : 'failed'}: ${message}\n`);
  return 1;
}
