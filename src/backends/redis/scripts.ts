/** The Redis backend's scripts, each its body after the shared prelude, with its SHA-1. */
import { LUA_PRELUDE } from './lua-prelude.ts';
import * as queues from './lua-queues.ts';
import * as tasks from './lua-tasks.ts';
import { script, type Script } from './redis-connection.ts';

const withPrelude = (name: string, body: string): Script => script(name, LUA_PRELUDE + body);

export const SCRIPTS = {
  insert: withPrelude('insert', tasks.INSERT),
  lease: withPrelude('lease', tasks.LEASE),
  ack: withPrelude('ack', tasks.ACK),
  extend: withPrelude('extend', tasks.EXTEND),
  release: withPrelude('release', tasks.RELEASE),
  delete: withPrelude('delete', tasks.DELETE),
  redrive: withPrelude('redrive', tasks.REDRIVE),
  get: withPrelude('get', queues.GET),
  list: withPrelude('list', queues.LIST),
  stats: withPrelude('stats', queues.STATS),
  purgeQueue: withPrelude('purgeQueue', queues.PURGE_QUEUE),
  deleteQueue: withPrelude('deleteQueue', queues.DELETE_QUEUE),
  createQueue: withPrelude('createQueue', queues.CREATE_QUEUE),
  getQueue: withPrelude('getQueue', queues.GET_QUEUE),
  listQueues: withPrelude('listQueues', queues.LIST_QUEUES),
  updateQueue: withPrelude('updateQueue', queues.UPDATE_QUEUE),
  createToken: withPrelude('createToken', queues.CREATE_TOKEN),
  findToken: withPrelude('findToken', queues.FIND_TOKEN),
  revokeToken: withPrelude('revokeToken', queues.REVOKE_TOKEN),
} as const satisfies Record<string, Script>;
