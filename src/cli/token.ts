/**
 * `pullq token create|list|revoke`: access tokens, through the server's `/v1/tokens` (admin
 * on `*` only). A new token is printed once, on stdout; the server keeps only its hash.
 */
import { Command, InvalidArgumentError } from 'commander';
import { MAX_EXPIRES_IN_SECONDS, ROLES, type Role } from '../auth/tokens.ts';
import { addClientOptions, runClient } from './client.ts';
import { formatTable, note, print, printJson, relativeTime } from './output.ts';
import { serverRequest } from './server-request.ts';

/** A token as the server lists it (never the token itself). */
interface WireToken {
  name: string;
  roles: Role[];
  queue: string;
  createdAt: number;
  expiresAt: number | null;
}

interface CreateFlags {
  name: string;
  role: Role[];
  queue?: string;
  expires?: number;
}

const UNIT_SECONDS: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86_400, w: 604_800 };

/** `--role producer,consumer` -> ['producer', 'consumer']. */
export function parseRoles(value: string): Role[] {
  const roles = value
    .split(',')
    .map((role) => role.trim())
    .filter((role) => role !== '');
  const unknown = roles.filter((role) => !(ROLES as readonly string[]).includes(role));
  if (roles.length === 0 || unknown.length > 0) {
    throw new InvalidArgumentError(
      `--role takes one or more of ${ROLES.join(', ')}, separated by commas`,
    );
  }
  return [...new Set(roles)] as Role[];
}

/** `--expires 30d` -> seconds: a number with s, m, h, d or w (seconds when bare). */
export function parseExpires(value: string): number {
  const match = /^\s*(\d+)\s*([smhdw]?)\s*$/i.exec(value);
  const seconds = match
    ? Number(match[1]) * (UNIT_SECONDS[(match[2] || 's').toLowerCase()] ?? 1)
    : NaN;
  if (!Number.isSafeInteger(seconds) || seconds < 1 || seconds > MAX_EXPIRES_IN_SECONDS) {
    throw new InvalidArgumentError(
      '--expires takes a duration such as 3600, 90m, 12h, 30d or 52w (at most 10 years)',
    );
  }
  return seconds;
}

function describeGrant(token: WireToken): string {
  return `roles ${token.roles.join(',')} on queue ${token.queue}, expires ${
    token.expiresAt === null ? 'never' : new Date(token.expiresAt).toISOString()
  }`;
}

export function tokenCommand(): Command {
  const token = new Command('token').description(
    'create, list and revoke access tokens (needs an admin token on *)',
  );

  const create = new Command('create')
    .description('create a token and print it, once: the server keeps only its hash')
    .requiredOption('--name <name>', 'a name for the token (1 to 100 of a-z A-Z 0-9 _ . @ -)')
    .requiredOption(
      '--role <roles>',
      `one or more of ${ROLES.join(', ')}, separated by commas`,
      parseRoles,
    )
    .option('--queue <pattern>', 'the queues it may use: a name, a glob like emails-*, or *', '*')
    .option('--expires <duration>', 'stop working after 3600, 90m, 12h, 30d...', parseExpires);
  addClientOptions(create).action(async (flags: CreateFlags, self: Command) =>
    runClient(self, async (_backend, settings) => {
      const created = await serverRequest<WireToken & { token: string }>(
        settings.server,
        settings.token,
        'POST',
        '/tokens',
        {
          name: flags.name,
          roles: flags.role,
          queue: flags.queue ?? '*',
          ...(flags.expires === undefined ? {} : { expiresInSeconds: flags.expires }),
        },
      );
      if (settings.json) printJson(created);
      else print(`${created.token}\n`);
      note(`created token "${created.name}": ${describeGrant(created)}`);
      note(
        `note: this is the only time the token is shown; it cannot be shown again. Keep it in a secret store; a client uses it with --token, PULLQ_TOKEN, or \`pullq login --server ${settings.server}\` (which reads it from stdin).`,
      );
    }),
  );

  const list = new Command('list').description('list tokens: names, roles, queues, expiry');
  addClientOptions(list).action(async (_flags: unknown, self: Command) =>
    runClient(self, async (_backend, settings) => {
      const { tokens } = await serverRequest<{ tokens: WireToken[] }>(
        settings.server,
        settings.token,
        'GET',
        '/tokens',
      );
      if (settings.json) {
        printJson({ tokens });
        return;
      }
      const now = Date.now();
      print(
        formatTable(
          ['NAME', 'ROLES', 'QUEUE', 'CREATED', 'EXPIRES'],
          tokens.map((item) => [
            item.name,
            item.roles.join(','),
            item.queue,
            relativeTime(item.createdAt, now),
            item.expiresAt === null
              ? 'never'
              : item.expiresAt <= now
                ? `expired ${relativeTime(item.expiresAt, now)}`
                : relativeTime(item.expiresAt, now),
          ]),
        ),
      );
    }),
  );

  const revoke = new Command('revoke')
    .description('revoke a token: it stops working at once')
    .argument('<name>', 'the token name');
  addClientOptions(revoke).action(async (name: string, _flags: unknown, self: Command) =>
    runClient(self, async (_backend, settings) => {
      await serverRequest<undefined>(
        settings.server,
        settings.token,
        'DELETE',
        `/tokens/${encodeURIComponent(name)}`,
      );
      if (settings.json) printJson({ revoked: name });
      else note(`revoked token "${name}"`);
    }),
  );

  return token.addCommand(create).addCommand(list).addCommand(revoke);
}
