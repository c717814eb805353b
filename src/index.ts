/**
 * ebpf: eBPF for TypeScript. The platform-neutral core (instruction set, ELF reader, BTF,
 * object specs, interpreter) is exported here; the Linux backend is `ebpf/kernel` (Node only).
 */
export * from './errors.js';
export * from './isa/index.js';
export * from './elf/index.js';
export * from './btf/index.js';
export * from './object/index.js';
export * from './vm/index.js';
