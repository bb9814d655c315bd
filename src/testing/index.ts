/**
 * `pullq/testing`: the contract suites and clock that let any Backend prove it keeps the rules,
 * and any transport that a Connection over it behaves as a consumer expects.
 */
export { backendContract } from './backend-contract.ts';
export type { BackendContractOptions, MakeBackend } from './backend-contract.ts';
export { ManualClock } from './manual-clock.ts';
export { transportContract } from './transport-contract.ts';
export type { MakeHarness, TransportHarness } from './transport-contract.ts';
export { tokenStoreContract } from './token-store-contract.ts';
export type { MakeTokenStore } from './token-store-contract.ts';
