export * from './errors.js';
export * from './memory.js';
export * from './helpers.js';
export * from './interpreter.js';
export * from './conformance-helpers.js';
export * from './callbacks.js';
export * from './maps/index.js';
export * from './helpers/index.js';
