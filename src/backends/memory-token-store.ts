/**
 * Tokens in memory: the reference TokenStore, kept by MemoryBackend beside its queues.
 * Records are copied in and out, so a caller cannot change a stored one.
 */
import type { TokenStore } from '../auth/token-store.ts';
import {
  checkTokenRecord,
  tokenHashTaken,
  tokenNameTaken,
  type TokenRecord,
} from '../auth/tokens.ts';

export class MemoryTokenStore implements TokenStore {
  readonly #byName = new Map<string, TokenRecord>();
  /** tokenHash -> name */
  readonly #byHash = new Map<string, string>();

  async createToken(record: TokenRecord): Promise<void> {
    checkTokenRecord(record);
    if (this.#byName.has(record.name)) throw tokenNameTaken(record.name);
    if (this.#byHash.has(record.tokenHash)) throw tokenHashTaken();
    this.#byName.set(record.name, copy(record));
    this.#byHash.set(record.tokenHash, record.name);
  }

  async findTokenByHash(tokenHash: string): Promise<TokenRecord | null> {
    const name = this.#byHash.get(tokenHash);
    const record = name === undefined ? undefined : this.#byName.get(name);
    return record ? copy(record) : null;
  }

  async listTokens(): Promise<TokenRecord[]> {
    return [...this.#byName.values()]
      .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
      .map(copy);
  }

  async revokeToken(name: string): Promise<boolean> {
    const record = this.#byName.get(name);
    if (!record) return false;
    this.#byName.delete(name);
    this.#byHash.delete(record.tokenHash);
    return true;
  }

  async countTokens(): Promise<number> {
    return this.#byName.size;
  }
}

function copy(record: TokenRecord): TokenRecord {
  return { ...record, roles: [...record.roles] };
}
