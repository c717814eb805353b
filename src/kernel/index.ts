export * from './errno.js';
export * from './error.js';
export * from './types.js';
export * from './syscalls.js';
export * from './native.js';
export * from './program.js';
export * from './test-run.js';
