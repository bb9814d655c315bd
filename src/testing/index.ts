/** `pullq/testing`: the contract suite and clock that let any Backend prove it keeps the rules. */
export { backendContract } from './backend-contract.ts';
export type { BackendContractOptions, MakeBackend } from './backend-contract.ts';
export { ManualClock } from './manual-clock.ts';
