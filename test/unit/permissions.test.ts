/**
 * Who may do what (src/auth/permissions.ts): the roles mirror App Engine's queue ACL, a
 * token's pattern bounds the queues, and every route of both APIs declares its permission.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import {
  ACTIONS,
  ROLE_ACTIONS,
  allows,
  patternCovers,
  queueAcl,
  type Action,
} from '../../src/auth/permissions.ts';
import type { Role, TokenRecord } from '../../src/auth/tokens.ts';
import { V1_ROUTES } from '../../src/server/routes/v1.ts';
import { V1BETA2_METHODS } from '../../src/server/routes/v1beta2-methods.ts';

const token = (roles: Role[], queuePattern = '*') => ({ roles, queuePattern });

describe('roles', () => {
  it('a producer may insert and nothing else', () => {
    assert.deepEqual(
      ACTIONS.filter((action) => allows(token(['producer']), action, ['q'])),
      ['insert'],
    );
  });

  it('a consumer may lease, ack, extend, release, update, get, list, delete, read stats, the queue and its dead letters, and not insert', () => {
    assert.deepEqual(
      ACTIONS.filter((action) => allows(token(['consumer']), action, ['q'])).sort(),
      [
        'ack',
        'delete',
        'extend',
        'get',
        'getQueue',
        'lease',
        'list',
        'listDead',
        'release',
        'stats',
        'update',
      ],
    );
  });

  it('an admin may do everything, queue control, purge, redrive and tokens included', () => {
    for (const action of ACTIONS) assert.ok(allows(token(['admin']), action, ['q']), action);
    for (const action of [
      'createQueue',
      'updateQueue',
      'deleteQueue',
      'purge',
      'redrive',
      'server',
    ] as const) {
      assert.ok(ROLE_ACTIONS.admin.has(action));
      assert.equal(ROLE_ACTIONS.consumer.has(action), false);
    }
  });

  it('several roles add up', () => {
    const both = token(['producer', 'consumer']);
    assert.ok(allows(both, 'insert', ['q']));
    assert.ok(allows(both, 'lease', ['q']));
    assert.equal(allows(both, 'purge', ['q']), false);
  });

  it('the roles apply only to the queues the pattern covers, every one of them', () => {
    const consumer = token(['consumer'], 'emails-*');
    assert.ok(allows(consumer, 'lease', ['emails-eu']));
    assert.equal(allows(consumer, 'lease', ['billing']), false);
    const admin = token(['admin'], 'emails-*');
    assert.ok(allows(admin, 'createQueue', ['emails-eu', 'emails-dead']));
    assert.equal(allows(admin, 'createQueue', ['emails-eu', 'billing']), false);
  });

  it('a queue action that names no queue is refused, whatever the pattern', () => {
    assert.equal(allows(token(['admin'], '*'), 'createQueue', []), false);
  });

  it('server actions (tokens) need the admin role on * exactly', () => {
    assert.ok(allows(token(['admin'], '*'), 'server', []));
    assert.equal(allows(token(['admin'], 'emails-*'), 'server', []), false);
    assert.equal(allows(token(['admin'], '**'), 'server', []), false);
    assert.equal(allows(token(['producer', 'consumer'], '*'), 'server', []), false);
  });
});

describe('queue patterns', () => {
  const cases: [string, string, boolean][] = [
    ['*', 'anything', true],
    ['billing', 'billing', true],
    ['billing', 'billing-eu', false],
    ['billing', 'Billing', false],
    ['emails-*', 'emails-eu', true],
    ['emails-*', 'emails-', true],
    ['emails-*', 'emails', false],
    ['emails-*', 'x-emails-eu', false],
    ['*-eu', 'emails-eu', true],
    ['*-eu', 'emails-us', false],
    ['a*b*c', 'abc', true],
    ['a*b*c', 'aXXbYYc', true],
    ['a*b*c', 'aXXbYYcd', false],
    ['a**', 'a', true],
  ];
  for (const [pattern, queue, covers] of cases) {
    it(`${pattern} ${covers ? 'covers' : 'does not cover'} ${queue}`, () => {
      assert.equal(patternCovers(pattern, queue), covers);
    });
  }

  it('a pattern without * covers exactly its own name', () => {
    fc.assert(
      fc.property(
        fc.stringMatching(/^[a-zA-Z0-9-]{1,20}$/),
        fc.stringMatching(/^[a-zA-Z0-9-]{1,20}$/),
        (a, b) => patternCovers(a, b) === (a === b),
      ),
    );
  });

  it('agrees with a regular expression of the same glob', () => {
    fc.assert(
      fc.property(
        fc.stringMatching(/^[ab*-]{1,12}$/),
        fc.stringMatching(/^[ab-]{1,16}$/),
        (pattern, queue) =>
          patternCovers(pattern, queue) ===
          new RegExp(`^${pattern.replaceAll('*', '.*')}$`).test(queue),
      ),
    );
  });

  it('matches a long many-star pattern against a near miss in linear-ish time', () => {
    const pattern = `${'*a'.repeat(49)}*`;
    const started = performance.now();
    assert.equal(patternCovers(pattern, 'a'.repeat(48) + 'b'.repeat(52)), false);
    assert.ok(performance.now() - started < 50);
  });
});

describe('v1beta2 queue ACL', () => {
  const record = (
    name: string,
    roles: Role[],
    queuePattern: string,
    expiresAt: number | null,
  ): TokenRecord => ({ name, roles, queuePattern, expiresAt, createdAt: 0, tokenHash: '' });

  it('lists the names of the live tokens holding each role on the queue', () => {
    const tokens = [
      record('boss', ['admin'], '*', null),
      record('mailer', ['producer'], 'emails-*', null),
      record('worker', ['producer', 'consumer'], 'emails-eu', null),
      record('billing', ['consumer'], 'billing', null),
      record('old', ['consumer'], '*', 999),
    ];
    assert.deepEqual(queueAcl(tokens, 'emails-eu', 1000), {
      adminEmails: ['boss'],
      consumerEmails: ['worker'],
      producerEmails: ['mailer', 'worker'],
    });
  });
});

describe('routes', () => {
  const known = new Set<string>([...ACTIONS, 'any']);

  it('every v1 route declares a known action, and names its queue when its path has one', () => {
    for (const route of V1_ROUTES) {
      assert.ok(known.has(route.auth.action), route.operationId);
      if (route.url.includes(':queue') && route.auth.action !== 'any') {
        assert.equal(route.auth.queueParam, 'queue', route.operationId);
      }
    }
  });

  it('a v1 route that is not about one queue is for any token (list queues) or admins on * (tokens)', () => {
    const unscoped = V1_ROUTES.filter(
      (route) => route.auth.queueParam === undefined && route.auth.bodyQueues === undefined,
    );
    assert.deepEqual(
      unscoped.map((route) => [route.operationId, route.auth.action]),
      [
        ['listQueues', 'any'],
        ['listQueueStats', 'any'],
        ['whoami', 'any'],
        ['createToken', 'server'],
        ['listTokens', 'server'],
        ['revokeToken', 'server'],
      ],
    );
  });

  it('v1beta2 methods need the roles of App Engine: insert producer, the rest consumer', () => {
    const roleFor = (action: Action): Role =>
      ROLE_ACTIONS.producer.has(action) ? 'producer' : 'consumer';
    assert.deepEqual(
      Object.fromEntries(V1BETA2_METHODS.map((method) => [method.id, roleFor(method.action)])),
      {
        'taskqueues.get': 'consumer',
        'tasks.insert': 'producer',
        'tasks.get': 'consumer',
        'tasks.list': 'consumer',
        'tasks.lease': 'consumer',
        'tasks.update': 'consumer',
        'tasks.patch': 'consumer',
        'tasks.delete': 'consumer',
      },
    );
    for (const method of V1BETA2_METHODS) {
      assert.ok(ROLE_ACTIONS[roleFor(method.action)].has(method.action), method.id);
    }
  });
});
