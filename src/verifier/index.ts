export * from './tnum.js';
export * from './reg.js';
export * from './state.js';
export * from './helpers.js';
export * from './ctx.js';
export * from './log.js';
export * from './verifier.js';
export * from './cases.js';
