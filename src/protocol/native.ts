/**
 * The native v1 API's wire shapes (docs/protocol.md, "Native v1 API") and the codecs between
 * them and the Backend's values, shared by the server's routes and the HTTP backend so both
 * ends agree by construction. Payloads travel as base64: standard alphabet with padding out,
 * either alphabet, padded or not, in.
 */
import type {
  LeaseRef,
  LeasedTask,
  NewTask,
  QueueInfo,
  QueueStats,
  ReleaseRequest,
  Task,
  TaskState,
} from '../backends/backend.ts';
import { PullqError, errorFromWire, type NativeErrorBody } from './errors.ts';
import { checkPayloadSize } from './limits.ts';

export interface WireTask {
  queue: string;
  id: string;
  /** Left out where the payload was not asked for (lists) or is already known (insert). */
  payload?: string;
  tag: string | null;
  enqueuedAt: number;
  eta: number;
  attempts: number;
  state: TaskState;
  lastError: string | null;
  deadLetteredFrom: string | null;
  /** Only on a task just leased. */
  leaseToken?: string;
}

export interface WireNewTask {
  payload?: string;
  text?: string;
  id?: string;
  tag?: string;
  eta?: number;
  delaySeconds?: number;
}

/** `token` (native) or `leaseExpiresAt` (the v1beta2 fence): exactly one. */
export interface WireLeaseRef {
  id: string;
  token?: string;
  leaseExpiresAt?: number;
}

export interface WireRelease extends WireLeaseRef {
  delaySeconds?: number;
  error?: string;
  deadLetter?: boolean;
}

export interface WireItemResult {
  ok: boolean;
  task?: WireTask;
  error?: NativeErrorBody;
}

export type WireQueue = QueueInfo;
export type WireStats = QueueStats;

const STANDARD_BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;
const URL_SAFE_BASE64 = /^[A-Za-z0-9_-]*={0,2}$/;

export function encodePayload(payload: Uint8Array): string {
  return Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength).toString('base64');
}

/**
 * Decodes a base64 payload. `Buffer.from(…, 'base64')` silently skips characters outside the
 * alphabet, so the text is checked first: one alphabet (not a mix), padding only at the end
 * and only to a multiple of 4, and no dangling sixth bit group. Too large: payload_too_large
 * (checked before decoding, from the length).
 */
export function decodePayload(text: string, field = 'payload'): Uint8Array {
  if (!STANDARD_BASE64.test(text) && !URL_SAFE_BASE64.test(text)) throw badBase64(field);
  let padding = 0;
  while (padding < 2 && text.charCodeAt(text.length - 1 - padding) === 61 /* = */) padding += 1;
  const data = text.length - padding;
  if (data % 4 === 1 || (padding > 0 && text.length % 4 !== 0)) throw badBase64(field);
  checkPayloadSize(Math.floor((data * 3) / 4), field);
  const bytes = Buffer.from(text, 'base64');
  return new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

function badBase64(field: string): PullqError {
  return new PullqError(
    'invalid_argument',
    `${field} is not base64 (standard or URL-safe alphabet, padded or not)`,
    { details: { field } },
  );
}

export function taskToWire(task: Task | LeasedTask, withPayload: boolean): WireTask {
  const wire: WireTask = {
    queue: task.queue,
    id: task.id,
    tag: task.tag,
    enqueuedAt: task.enqueuedAt,
    eta: task.eta,
    attempts: task.attempts,
    state: task.state,
    lastError: task.lastError,
    deadLetteredFrom: task.deadLetteredFrom,
  };
  if (withPayload) wire.payload = encodePayload(task.payload);
  if ('leaseToken' in task) wire.leaseToken = task.leaseToken;
  return wire;
}

const EMPTY = new Uint8Array(0);

/** A task from the wire; a payload left out reads as empty, as a backend's views leave it. */
export function taskFromWire(wire: WireTask, payload?: Uint8Array): Task {
  return {
    queue: wire.queue,
    id: wire.id,
    payload: payload ?? (wire.payload === undefined ? EMPTY : decodePayload(wire.payload)),
    tag: wire.tag,
    enqueuedAt: wire.enqueuedAt,
    eta: wire.eta,
    attempts: wire.attempts,
    state: wire.state,
    lastError: wire.lastError,
    deadLetteredFrom: wire.deadLetteredFrom,
  };
}

export function leasedTaskFromWire(wire: WireTask): LeasedTask {
  if (wire.leaseToken === undefined || wire.state !== 'leased') {
    throw new PullqError('internal', `leased task ${wire.id} came back without a lease token`);
  }
  return { ...taskFromWire(wire), state: 'leased', leaseToken: wire.leaseToken };
}

export function newTaskToWire(task: NewTask): WireNewTask {
  const wire: WireNewTask = { payload: encodePayload(task.payload) };
  if (task.id !== undefined) wire.id = task.id;
  if (task.tag !== undefined) wire.tag = task.tag;
  if (task.eta !== undefined) wire.eta = task.eta;
  return wire;
}

/**
 * A task to insert, from the wire. `now` turns `delaySeconds` into an ETA. Field names in
 * errors say where in the batch (`tasks[3].payload`).
 */
export function newTaskFromWire(wire: WireNewTask, index: number, now: number): NewTask {
  const at = `tasks[${index}]`;
  let payload: Uint8Array;
  if (wire.payload !== undefined) {
    if (wire.text !== undefined) throw exactlyOne(`${at}.payload`, 'payload', 'text');
    payload = decodePayload(wire.payload, `${at}.payload`);
  } else if (wire.text !== undefined) {
    const bytes = Buffer.from(wire.text, 'utf8');
    checkPayloadSize(bytes.byteLength, `${at}.text`);
    payload = new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  } else {
    throw exactlyOne(`${at}.payload`, 'payload', 'text');
  }
  const task: NewTask = { payload };
  if (wire.id !== undefined) task.id = wire.id;
  if (wire.tag !== undefined) task.tag = wire.tag;
  if (wire.eta !== undefined) {
    if (wire.delaySeconds !== undefined) throw exactlyOne(`${at}.eta`, 'eta', 'delaySeconds', true);
    task.eta = wire.eta;
  } else if (wire.delaySeconds !== undefined) {
    task.eta = now + Math.round(wire.delaySeconds * 1000);
  }
  return task;
}

function exactlyOne(field: string, a: string, b: string, orNeither = false): PullqError {
  return new PullqError(
    'invalid_argument',
    `${field}: give ${orNeither ? 'at most' : 'exactly'} one of ${a} and ${b}`,
    { details: { field } },
  );
}

export function leaseRefToWire(ref: LeaseRef): WireLeaseRef {
  return 'token' in ref
    ? { id: ref.id, token: ref.token }
    : { id: ref.id, leaseExpiresAt: ref.leaseExpiresAt };
}

export function leaseRefFromWire(wire: WireLeaseRef, index: number): LeaseRef {
  if (wire.token !== undefined) {
    if (wire.leaseExpiresAt !== undefined) {
      throw exactlyOne(`leases[${index}].token`, 'token', 'leaseExpiresAt');
    }
    return { id: wire.id, token: wire.token };
  }
  if (wire.leaseExpiresAt !== undefined)
    return { id: wire.id, leaseExpiresAt: wire.leaseExpiresAt };
  throw exactlyOne(`leases[${index}].token`, 'token', 'leaseExpiresAt');
}

export function releaseToWire(release: ReleaseRequest): WireRelease {
  const wire: WireRelease = leaseRefToWire(release.ref);
  if (release.delaySeconds !== undefined) wire.delaySeconds = release.delaySeconds;
  if (release.error !== undefined) wire.error = release.error;
  if (release.deadLetter !== undefined) wire.deadLetter = release.deadLetter;
  return wire;
}

export function releaseFromWire(wire: WireRelease, index: number): ReleaseRequest {
  const release: ReleaseRequest = { ref: leaseRefFromWire(wire, index) };
  if (wire.delaySeconds !== undefined) release.delaySeconds = wire.delaySeconds;
  if (wire.error !== undefined) release.error = wire.error;
  if (wire.deadLetter !== undefined) release.deadLetter = wire.deadLetter;
  return release;
}

export function errorItemToWire(error: PullqError): WireItemResult {
  return { ok: false, error: error.toJSON().error };
}

/** A failed batch item from the wire: the same coded error the server raised. */
export function errorItemFromWire(wire: WireItemResult): PullqError {
  return errorFromWire(500, { error: wire.error });
}
