/**
 * The transport registry: which Backend a connection URL opens, by its scheme. The built-in
 * transports register in transports.ts; later ones (PostgreSQL, Redis, AMQP, NATS) plug in
 * with `registerTransport` the same way.
 */
import type { Backend } from '../backends/backend.ts';
import { PullqError } from '../protocol/errors.ts';

/** What a transport gets to open its backend: the settings a Connection resolved. */
export interface TransportSettings {
  /** The connection URL, parsed. */
  url: URL;
  /** The URL as the caller wrote it (file paths keep their spelling). */
  href: string;
  /** 'native' unless the caller asked for the App Engine v1beta2 protocol. */
  protocol: 'native' | 'v1beta2';
  project: string | undefined;
  hrdProject: boolean;
  token: string | undefined;
  /** Per request, for transports that make requests. */
  timeoutMs: number;
}

export interface Transport {
  /** URL schemes without the colon, e.g. `['sqlite']`. */
  schemes: readonly string[];
  /** One line for error messages and docs: what the scheme opens and its URL form. */
  description: string;
  open(settings: TransportSettings): Backend | Promise<Backend>;
}

const transports = new Map<string, Transport>();

/** Makes `scheme://...` URLs open this transport. A scheme registered again is replaced. */
export function registerTransport(transport: Transport): void {
  for (const scheme of transport.schemes) transports.set(scheme.toLowerCase(), transport);
}

/** The schemes a Connection understands now, sorted. */
export function knownSchemes(): string[] {
  return [...transports.keys()].sort();
}

export function transportFor(url: URL): Transport {
  const scheme = url.protocol.replace(/:$/, '').toLowerCase();
  const transport = transports.get(scheme);
  if (transport === undefined) {
    const known = [...new Set(transports.values())].map((t) => `  ${t.description}`).join('\n');
    throw new PullqError(
      'invalid_argument',
      `no transport for the URL scheme "${scheme}://"; the known ones are:\n${known}`,
      { details: { field: 'url', scheme, known: knownSchemes() } },
    );
  }
  return transport;
}

/** A connection URL without its password (`postgres://user:***@host/db`), for messages and
 * logs. */
export function withoutPassword(url: string): string {
  return url.replace(/^([a-z]+:\/\/[^:@/]*:)[^@/]*@/i, '$1***@');
}
