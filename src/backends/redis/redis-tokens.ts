/**
 * The Redis TokenStore: `P:tokens` (a hash of name -> the record as JSON) and
 * `P:token-hashes` (token hash -> name), kept together by scripts. A token is looked up on
 * every authenticated request (the server caches what it verified for about a second): one
 * script, two hash reads.
 */
import type { TokenStore } from '../../auth/token-store.ts';
import {
  checkTokenRecord,
  tokenHashTaken,
  tokenNameTaken,
  type TokenRecord,
} from '../../auth/tokens.ts';
import type { RedisConnection } from './redis-connection.ts';
import { int, optText, text } from './replies.ts';
import { SCRIPTS } from './scripts.ts';

export class RedisTokens implements TokenStore {
  readonly #redis: RedisConnection;
  readonly #prefix: string;

  constructor(redis: RedisConnection, prefix: string) {
    this.#redis = redis;
    this.#prefix = prefix;
  }

  async createToken(record: TokenRecord): Promise<void> {
    checkTokenRecord(record);
    const { name, tokenHash, roles, queuePattern, createdAt, expiresAt } = record;
    const json = JSON.stringify({ name, tokenHash, roles, queuePattern, createdAt, expiresAt });
    const outcome = text(
      await this.#redis.run(SCRIPTS.createToken, [
        this.#prefix,
        '',
        record.name,
        record.tokenHash,
        json,
      ]),
    );
    if (outcome === 'name_taken') throw tokenNameTaken(record.name);
    if (outcome === 'hash_taken') throw tokenHashTaken();
  }

  async findTokenByHash(tokenHash: string): Promise<TokenRecord | null> {
    const json = optText(await this.#redis.run(SCRIPTS.findToken, [this.#prefix, '', tokenHash]));
    return json === null ? null : (JSON.parse(json) as TokenRecord);
  }

  async listTokens(): Promise<TokenRecord[]> {
    const values = await this.#redis.call((client) => client.hvals(`${this.#prefix}:tokens`));
    return values
      .map((json) => JSON.parse(json) as TokenRecord)
      .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  }

  async revokeToken(name: string): Promise<boolean> {
    return int(await this.#redis.run(SCRIPTS.revokeToken, [this.#prefix, '', name])) === 1;
  }

  async countTokens(): Promise<number> {
    return this.#redis.call((client) => client.hlen(`${this.#prefix}:tokens`));
  }
}
