/**
 * Who may do what. The roles mirror App Engine's pull-queue ACL: producers insert
 * (`producerEmails`), consumers work the tasks (`consumerEmails`), admins control the queue
 * (`adminEmails`) and, on `*`, the server (its tokens). A token's roles apply to the queues its pattern
 * covers, and to no other.
 */
import type { Role, TokenRecord } from './tokens.ts';

/** What a request does, as far as permissions go; each route names one. */
export type Action =
  | 'insert'
  | 'lease'
  | 'ack'
  | 'extend'
  | 'release'
  /** v1beta2 tasks.update and tasks.patch: extend a lease, or end it (newLeaseSeconds 0). */
  | 'update'
  | 'get'
  | 'list'
  | 'delete'
  | 'stats'
  | 'getQueue'
  | 'listDead'
  | 'createQueue'
  | 'updateQueue'
  | 'deleteQueue'
  | 'purge'
  | 'redrive'
  /** Not about one queue: the tokens; needs the role on `*`. */
  | 'server';

const CONSUMER_ACTIONS: readonly Action[] = [
  'lease',
  'ack',
  'extend',
  'release',
  'update',
  'get',
  'list',
  'delete',
  'stats',
  'getQueue',
  'listDead',
];
const ADMIN_ONLY_ACTIONS: readonly Action[] = [
  'createQueue',
  'updateQueue',
  'deleteQueue',
  'purge',
  'redrive',
  'server',
];

export const ROLE_ACTIONS: Readonly<Record<Role, ReadonlySet<Action>>> = {
  producer: new Set<Action>(['insert']),
  consumer: new Set(CONSUMER_ACTIONS),
  admin: new Set<Action>(['insert', ...CONSUMER_ACTIONS, ...ADMIN_ONLY_ACTIONS]),
};

export const ACTIONS: readonly Action[] = [...ROLE_ACTIONS.admin];

type Grant = Pick<TokenRecord, 'roles' | 'queuePattern'>;

/**
 * Whether `token` may do `action` on every queue of `queues`. The server action takes no
 * queue: it needs the role on `*` exactly.
 */
export function allows(token: Grant, action: Action, queues: readonly string[]): boolean {
  if (!token.roles.some((role) => ROLE_ACTIONS[role].has(action))) return false;
  if (action === 'server') return token.queuePattern === '*';
  // No queue named: nothing to check the pattern against, so nothing is allowed.
  return queues.length > 0 && queues.every((queue) => patternCovers(token.queuePattern, queue));
}

/** Whether a queue pattern (`*`, `emails-*`, `billing`) covers a queue name. */
export function patternCovers(pattern: string, queue: string): boolean {
  if (pattern === '*') return true;
  if (!pattern.includes('*')) return pattern === queue;
  return globMatch(pattern, queue);
}

/**
 * Wildcard matching in O(pattern x name) at worst: on a mismatch, the last `*` takes one more
 * character and matching resumes after it. (A regular expression of many `.*` backtracks
 * exponentially on a name that almost matches.)
 */
function globMatch(pattern: string, name: string): boolean {
  let p = 0;
  let n = 0;
  let star = -1;
  let resume = 0;
  while (n < name.length) {
    if (p < pattern.length && pattern[p] === '*') {
      star = p++;
      resume = n;
    } else if (p < pattern.length && pattern[p] === name[n]) {
      p++;
      n++;
    } else if (star >= 0) {
      p = star + 1;
      n = ++resume;
    } else {
      return false;
    }
  }
  while (p < pattern.length && pattern[p] === '*') p++;
  return p === pattern.length;
}

/** The names of the tokens that hold each role on `queue` (v1beta2's queue ACL). */
export function queueAcl(
  tokens: readonly TokenRecord[],
  queue: string,
  now: number,
): { adminEmails: string[]; consumerEmails: string[]; producerEmails: string[] } {
  const holding = (role: Role): string[] =>
    tokens
      .filter(
        (token) =>
          token.roles.includes(role) &&
          (token.expiresAt === null || token.expiresAt > now) &&
          patternCovers(token.queuePattern, queue),
      )
      .map((token) => token.name);
  return {
    adminEmails: holding('admin'),
    consumerEmails: holding('consumer'),
    producerEmails: holding('producer'),
  };
}
