/**
 * TypeBox schemas of the native v1 API: Fastify validates requests with them (Ajv), serializes
 * answers with them (fast-json-stringify), and `GET /openapi.json` publishes them. The wire
 * types they describe live in `src/protocol/native.ts`.
 */
import { Type, type Static, type TSchema } from 'typebox';
import { LIMITS, QUEUE_NAME_PATTERN, TASK_ID_PATTERN } from '../../protocol/limits.ts';
import { TASK_STATES } from '../../backends/backend.ts';
import {
  MAX_EXPIRES_IN_SECONDS,
  QUEUE_PATTERN_PATTERN,
  ROLES,
  TOKEN_NAME_PATTERN,
  type Role,
} from '../../auth/tokens.ts';

/**
 * `T | null` as a JSON type array: fast-json-stringify picks the branch with a `typeof`, where an
 * `anyOf` would run an Ajv validation per value. Only used in answers; requests use `anyOf`,
 * which Ajv's strict mode accepts without warnings.
 */
function orNull<T extends TSchema>(schema: T) {
  const { type } = schema as unknown as { type: string };
  return Type.Unsafe<Static<T> | null>({ ...schema, type: [type, 'null'] });
}

function nullableInput<T extends TSchema>(schema: T) {
  return Type.Union([schema, Type.Null()]);
}

const queueName = Type.String({
  pattern: QUEUE_NAME_PATTERN.source,
  description: '1 to 100 of a-z, A-Z, 0-9 and -',
});
const taskId = Type.String({
  pattern: TASK_ID_PATTERN.source,
  description: '1 to 500 of a-z, A-Z, 0-9, _ and -',
});
const tag = Type.String({
  maxLength: LIMITS.maxTagBytes,
  description: `at most ${LIMITS.maxTagBytes} bytes of UTF-8`,
});
const millis = Type.Integer({ minimum: 0, description: 'milliseconds since the Unix epoch' });
const taskState = Type.Unsafe<(typeof TASK_STATES)[number]>({
  type: 'string',
  enum: [...TASK_STATES],
});
const leaseSeconds = Type.Number({ minimum: 0, maximum: LIMITS.maxLeaseSeconds });
const delaySeconds = Type.Number({ minimum: 0, maximum: LIMITS.maxEtaAheadSeconds });
const maxLeases = Type.Integer({
  minimum: 1,
  maximum: 1_000_000,
  description: 'leases a task may have before it is dead-lettered; null: unlimited',
});
const dedupWindowSeconds = Type.Integer({ minimum: 0, maximum: 365 * 24 * 3600 });

const tokenName = Type.String({
  pattern: TOKEN_NAME_PATTERN.source,
  description: '1 to 100 of a-z, A-Z, 0-9, _, ., @ and -',
});
const role = Type.Unsafe<Role>({ type: 'string', enum: [...ROLES] });
const queuePattern = Type.String({
  pattern: QUEUE_PATTERN_PATTERN.source,
  description: 'the queues the roles apply to: `*`, a queue name, or a glob such as `emails-*`',
});

// ---- path and query ----

export const QueueParams = Type.Object({ queue: queueName }, { additionalProperties: false });
export const TokenParams = Type.Object({ name: tokenName }, { additionalProperties: false });
export const TaskParams = Type.Object(
  { queue: queueName, id: taskId },
  { additionalProperties: false },
);

/** Query values are strings (the server does not coerce types); handlers parse them. */
export const ListQuery = Type.Object(
  {
    state: Type.Optional(taskState),
    tag: Type.Optional(tag),
    limit: Type.Optional(
      Type.String({ pattern: '^[0-9]{1,4}$', description: `1 to ${LIMITS.maxListLimit}; 100` }),
    ),
    cursor: Type.Optional(Type.String({ maxLength: 200 })),
    payload: Type.Optional(
      Type.Unsafe<'true' | 'false'>({ type: 'string', enum: ['true', 'false'] }),
    ),
  },
  { additionalProperties: false },
);
/** `GET /v1/stats`: the readable queues in name order, a page at a time. */
export const QueueStatsQuery = Type.Object(
  {
    limit: Type.Optional(
      Type.String({
        pattern: '^[0-9]{1,4}$',
        description: `1 to ${LIMITS.maxListLimit} queues; ${LIMITS.maxListLimit}`,
      }),
    ),
    cursor: Type.Optional(
      Type.String({ maxLength: 200, description: 'the nextCursor of the previous page' }),
    ),
  },
  { additionalProperties: false },
);
export const DeadQuery = Type.Object(
  {
    limit: ListQuery.properties.limit,
    cursor: ListQuery.properties.cursor,
    payload: ListQuery.properties.payload,
  },
  { additionalProperties: false },
);

// ---- request bodies ----

export const NewTaskBody = Type.Object(
  {
    payload: Type.Optional(
      Type.String({ description: 'base64, standard or URL-safe, padded or not; at most 1 MiB' }),
    ),
    text: Type.Optional(Type.String({ description: 'a UTF-8 payload; instead of payload' })),
    id: Type.Optional(taskId),
    tag: Type.Optional(tag),
    eta: Type.Optional(millis),
    delaySeconds: Type.Optional(delaySeconds),
  },
  { additionalProperties: false },
);

export const InsertBody = Type.Object(
  {
    tasks: Type.Array(NewTaskBody, { minItems: 1, maxItems: LIMITS.maxBatch }),
    createQueue: Type.Optional(
      Type.Boolean({
        description:
          'false: answer queue_not_found instead of creating a missing queue; absent or true: create it when the server auto-creates queues',
      }),
    ),
  },
  { additionalProperties: false },
);

export const LeaseBody = Type.Object(
  {
    max: Type.Integer({ minimum: 1, maximum: LIMITS.maxTasksPerLease }),
    leaseSeconds,
    tag: Type.Optional(tag),
    groupByTag: Type.Optional(Type.Boolean()),
    waitSeconds: Type.Optional(Type.Number({ minimum: 0, maximum: LIMITS.maxWaitSeconds })),
  },
  { additionalProperties: false },
);

const leaseRefProperties = {
  id: taskId,
  token: Type.Optional(Type.String({ description: 'as the lease handed it out' })),
  leaseExpiresAt: Type.Optional(
    Type.Integer({
      minimum: 0,
      description: 'instead of token: the time the lease ends (the v1beta2 fence)',
    }),
  ),
};
export const LeaseRefBody = Type.Object(leaseRefProperties, { additionalProperties: false });
const leaseRefs = Type.Array(LeaseRefBody, { minItems: 1, maxItems: LIMITS.maxBatch });

export const AckBody = Type.Object({ leases: leaseRefs }, { additionalProperties: false });
export const ExtendBody = Type.Object(
  { leases: leaseRefs, leaseSeconds },
  { additionalProperties: false },
);
export const ReleaseItemBody = Type.Object(
  {
    ...leaseRefProperties,
    delaySeconds: Type.Optional(delaySeconds),
    error: Type.Optional(Type.String({ description: 'kept on the task, cut to 4 KiB' })),
    deadLetter: Type.Optional(Type.Boolean()),
  },
  { additionalProperties: false },
);
export const ReleaseBody = Type.Object(
  { leases: Type.Array(ReleaseItemBody, { minItems: 1, maxItems: LIMITS.maxBatch }) },
  { additionalProperties: false },
);

const ids = Type.Array(taskId, { minItems: 1, maxItems: LIMITS.maxBatch });
export const DeleteBody = Type.Object({ ids }, { additionalProperties: false });
/** Ends a lease without its token (admin): optional, like the redrive body. */
export const ForceReleaseBody = nullableInput(
  Type.Object({ delaySeconds: Type.Optional(delaySeconds) }, { additionalProperties: false }),
);
/** The body is optional: no body (or null) redrives every dead letter. */
export const RedriveBody = nullableInput(
  Type.Object({ ids: Type.Optional(ids) }, { additionalProperties: false }),
);

const queueConfigProperties = {
  maxLeases: Type.Optional(nullableInput(maxLeases)),
  deadLetterQueue: Type.Optional(nullableInput(queueName)),
  dedupWindowSeconds: Type.Optional(dedupWindowSeconds),
  paused: Type.Optional(Type.Boolean()),
};
export const CreateQueueBody = Type.Object(
  { name: queueName, ...queueConfigProperties },
  { additionalProperties: false },
);
export const UpdateQueueBody = Type.Object(queueConfigProperties, {
  additionalProperties: false,
});

export const CreateTokenBody = Type.Object(
  {
    name: tokenName,
    roles: Type.Array(role, { minItems: 1, maxItems: ROLES.length, uniqueItems: true }),
    queue: Type.Optional(queuePattern),
    expiresInSeconds: Type.Optional(
      Type.Integer({
        minimum: 1,
        maximum: MAX_EXPIRES_IN_SECONDS,
        description: 'the token stops working this long after it is made; absent: never',
      }),
    ),
  },
  { additionalProperties: false },
);

// ---- answers ----

export const ErrorBody = Type.Object({
  code: Type.String(),
  message: Type.String(),
  retryable: Type.Boolean(),
  details: Type.Optional(Type.Object({}, { additionalProperties: true })),
});
export const ErrorEnvelope = Type.Object({ error: ErrorBody });

export const Task = Type.Object({
  queue: Type.String(),
  id: Type.String(),
  payload: Type.Optional(
    Type.String({ description: 'standard base64; left out where the answer says so' }),
  ),
  tag: orNull(Type.String()),
  enqueuedAt: Type.Integer(),
  eta: Type.Integer({ description: 'leasable from; while leased, when the lease ends' }),
  attempts: Type.Integer(),
  state: taskState,
  lastError: orNull(Type.String()),
  deadLetteredFrom: orNull(Type.String()),
  leaseToken: Type.Optional(Type.String({ description: 'only on a task just leased' })),
});

export const Queue = Type.Object({
  name: Type.String(),
  createdAt: Type.Integer(),
  maxLeases: orNull(Type.Integer()),
  deadLetterQueue: orNull(Type.String()),
  dedupWindowSeconds: Type.Integer(),
  paused: Type.Boolean(),
});

export const Stats = Type.Object({
  ready: Type.Integer(),
  delayed: Type.Integer(),
  leased: Type.Integer(),
  dead: Type.Integer(),
  oldestReadyAgeSeconds: orNull(Type.Number()),
  oldestEta: orNull(Type.Integer()),
  leasedLastMinute: Type.Integer(),
  leasedLastHour: Type.Integer(),
});

/** One item of a batch answer: `{ ok: true, task? }` or `{ ok: false, error }`. */
export const ItemResult = Type.Object({
  ok: Type.Boolean(),
  task: Type.Optional(Task),
  error: Type.Optional(ErrorBody),
});

export const ResultsAnswer = Type.Object({ results: Type.Array(ItemResult) });
export const TasksAnswer = Type.Object({ tasks: Type.Array(Task) });
export const TaskPageAnswer = Type.Object({
  tasks: Type.Array(Task),
  nextCursor: orNull(Type.String()),
});
export const QueuesAnswer = Type.Object({ queues: Type.Array(Queue) });
export const PurgedAnswer = Type.Object({ purged: Type.Integer() });
/** 204: no body. */
export const NoContent = Type.Null();
export const RedrivenAnswer = Type.Object({ redriven: Type.Integer() });
/** A queue's settings and its stats, one item of `GET /v1/stats`. */
export const QueueWithStats = Type.Object({ ...Queue.properties, stats: Stats });
export const QueueStatsAnswer = Type.Object({
  queues: Type.Array(QueueWithStats),
  nextCursor: orNull(Type.String()),
});
/** `GET /v1/whoami`: the caller's token as the server sees it. */
export const WhoamiAnswer = Type.Object({
  auth: Type.Boolean({ description: 'false: the server runs without authentication' }),
  name: orNull(Type.String()),
  roles: Type.Array(role),
  queue: Type.String({ description: 'the queue pattern the roles apply to' }),
  expiresAt: orNull(Type.Integer()),
  actions: Type.Array(Type.String(), {
    description: 'what the roles allow on the queues the pattern covers',
  }),
  serverAdmin: Type.Boolean({ description: 'admin on `*`: may manage tokens' }),
});

/** A token as listed: never the token itself. */
export const Token = Type.Object({
  name: Type.String(),
  roles: Type.Array(role),
  queue: Type.String(),
  createdAt: Type.Integer(),
  expiresAt: orNull(Type.Integer()),
});
export const NewTokenAnswer = Type.Object({
  token: Type.String({ description: 'shown this once; the server keeps only its hash' }),
  ...Token.properties,
});
export const TokensAnswer = Type.Object({ tokens: Type.Array(Token) });

/** Named in the OpenAPI document's components, and referenced from the paths. */
export const COMPONENTS: Record<string, TSchema> = {
  Task,
  Queue,
  Stats,
  ItemResult,
  Error: ErrorEnvelope,
  NewTask: NewTaskBody,
  LeaseRef: LeaseRefBody,
  Token,
};
