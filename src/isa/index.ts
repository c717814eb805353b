export * from './opcodes.js';
export * from './instruction.js';
export * from './decode.js';
export * from './encode.js';
export * from './validate.js';
export * from './conformance-asm.js';
export * from './conformance-disasm.js';
