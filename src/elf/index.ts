export * from './constants.js';
export * from './reader.js';
export * from './strings.js';
export * from './header.js';
export * from './sections.js';
export * from './symbols.js';
export * from './relocations.js';
export * from './file.js';
