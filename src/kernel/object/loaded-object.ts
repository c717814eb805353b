/**
 * The loaded-object interface (ARCHITECTURE.md: "One loaded-object interface for both
 * backends"): `KernelObject`, `ObjectProgram` and `ObjectMap` implement it, as the VM's objects
 * do. The declarations are platform-neutral and live in src/object/loaded.ts.
 */
export type { LoadedMap, LoadedObject, LoadedProgram } from '../../object/loaded.js';
