export * from './uapi-types.js';
export * from './section-defs.js';
export * from './spec.js';
export * from './errors.js';
export * from './object-spec.js';
export * from './load.js';
export * from './loaded.js';
