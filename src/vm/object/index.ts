/** Loading eBPF objects into the VM: `loadObjectVm` and the loaded object's parts. */
export * from './load.js';
export * from './program.js';
export * from './map.js';
export * from './context.js';
export type { KconfigValue } from './kconfig.js';
export * from './events.js';
export * from './hooks.js';
