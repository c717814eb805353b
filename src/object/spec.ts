/**
 * The data model of a parsed eBPF object, after cilium/ebpf's CollectionSpec: programs
 * (linked with their subprograms), maps (BTF-defined, legacy and global data), global
 * variables and externs. Pure, deterministic data — no file descriptors, nothing that depends
 * on the machine. Map and extern references stay symbolic (`ProgramReference`) until a
 * backend loads the spec; CO-RE records are kept for the backend to apply against its BTF.
 */
import type { Btf } from '../btf/btf.js';
import type { Instruction } from '../isa/instruction.js';

/** One function of a linked program, in the order the linker laid them out (entry first). */
export interface FunctionSpan {
  readonly name: string;
  /** ELF section the function came from (`.text` for subprograms). */
  readonly section: string;
  /** Index into `ProgramSpec.instructions` of the function's first instruction. */
  readonly insn: number;
  /** Kernel instruction offset (8-byte slot) of the first instruction. */
  readonly slot: number;
  /** Length in 8-byte slots (what the function symbol's size says, divided by 8). */
  readonly slotCount: number;
  /** Number of entries in `ProgramSpec.instructions` (an `lddw` counts once). */
  readonly insnCount: number;
  /** STB_GLOBAL/STB_WEAK symbol (a global function is verified on its own by the kernel). */
  readonly global: boolean;
  /** Hidden or internal visibility: libbpf marks such a global function static in BTF. */
  readonly hidden: boolean;
}

/**
 * A use of a map, global variable or kernel symbol by one instruction, resolved when the
 * program is loaded. `insn` indexes `ProgramSpec.instructions`; `slot` is the kernel
 * instruction offset of the same instruction.
 *
 * - `map`: `lddw rX, map` — the instruction is `lddw` with src BPF_PSEUDO_MAP_FD, imm 0;
 *   the loader puts the map's fd in imm.
 * - `map_value`: `lddw rX, &map_value + offset` (global data, `.kconfig` externs) —
 *   src BPF_PSEUDO_MAP_VALUE, imm 0, imm2 = `offset`; the loader puts the map's fd in imm.
 * - `ksym`: `lddw rX, &kernel_symbol` (`.ksyms` variable) — src 0, imm 0, imm2 0; the loader
 *   writes a BTF id (BPF_PSEUDO_BTF_ID) or the symbol's address.
 * - `kfunc`: `call kfunc` — src BPF_PSEUDO_KFUNC_CALL, imm 0; the loader writes the BTF id.
 */
export type ProgramReference =
  | { readonly kind: 'map'; readonly insn: number; readonly slot: number; readonly map: string }
  | {
    readonly kind: 'map_value'; readonly insn: number; readonly slot: number; readonly map: string;
    readonly offset: number;
    /** The variable referred to, when the relocation names one. */
    readonly symbol?: string;
    /** For `.kconfig`: the extern whose value lives at `offset`. */
    readonly extern?: string;
  }
  | { readonly kind: 'ksym' | 'kfunc'; readonly insn: number; readonly slot: number; readonly extern: string };

/** Source position of an instruction (a `.BTF.ext` line_info record). */
export interface LineInfo {
  /** Index into `ProgramSpec.instructions`. */
  readonly insn: number;
  /** Kernel instruction offset (what `bpf_line_info.insn_off` holds at load). */
  readonly slot: number;
  readonly fileName: string;
  /** The source line's text, as clang recorded it. */
  readonly lineText: string;
  readonly line: number;
  /** 1-based column, 0 when unknown. */
  readonly column: number;
}

/** The BTF FUNC of a function (a `.BTF.ext` func_info record). */
export interface FuncInfo {
  readonly insn: number;
  readonly slot: number;
  /** BTF id of the FUNC type. */
  readonly typeId: number;
}

/**
 * A CO-RE relocation of one instruction (a `.BTF.ext` bpf_core_relo record), made relative to
 * the linked program. Structurally a `CoreRelocation` of src/btf/core.ts, so a program's list
 * goes straight to `applyCoreRelocations(prog.instructions, prog.coreRelocations, btf, target)`.
 */
export interface CoreRelocationRecord {
  readonly insn: number;
  readonly slot: number;
  /** Byte offset of the instruction in the linked program (`slot * 8`), as core.ts wants it. */
  readonly insnOff: number;
  /** Local BTF id of the root type. */
  readonly typeId: number;
  /** Access string, e.g. `0:1:2`. */
  readonly accessStr: string;
  /** `enum bpf_core_relo_kind`. */
  readonly kind: number;
}

/** A program: one entry function with every subprogram it uses, linked as libbpf links it. */
export interface ProgramSpec {
  /** The entry function's symbol name. */
  readonly name: string;
  /** ELF section name, as written (`?xdp`, `tp/syscalls/sys_enter_execve`). */
  readonly sectionName: string;
  /** ProgramType (BPF_PROG_TYPE_*). */
  readonly type: number;
  /** AttachType (BPF_*) the program is loaded with; 0 when the section says none. */
  readonly expectedAttachType: number;
  /** What follows `kind/` in the section name: tracepoint, function, BTF target… */
  readonly attachTarget: string | undefined;
  /** BPF_PROG_LOAD prog_flags the section implies (BPF_F_SLEEPABLE, BPF_F_XDP_HAS_FRAGS). */
  readonly programFlags: number;
  readonly sleepable: boolean;
  /** XDP program that handles multi-buffer frames (`xdp.frags`). */
  readonly xdpFrags: boolean;
  /** libbpf SEC_* flags of the matched section definition (0 for an explicit type). */
  readonly sectionFlags: number;
  /** False for `?section` programs: libbpf does not load them unless asked. */
  readonly autoload: boolean;
  readonly license: string;
  /** Contents of the `version` section (0 when absent). */
  readonly kernelVersion: number;
  /** The linked program: entry function, then subprograms in first-use order. */
  readonly instructions: readonly Instruction[];
  /** Where each function landed in `instructions`. */
  readonly functions: readonly FunctionSpan[];
  /** Map, global-data and kernel-symbol uses, resolved at load. */
  readonly references: readonly ProgramReference[];
  readonly lineInfo: readonly LineInfo[];
  readonly funcInfo: readonly FuncInfo[];
  readonly coreRelocations: readonly CoreRelocationRecord[];
}

/** Where a map's definition came from. */
export type MapOrigin =
  /** A BTF-defined map in `.maps`. */
  | 'btf'
  /** A `struct bpf_map_def` in the legacy `maps` section. */
  | 'legacy'
  /** `.data`, `.data.*` */
  | 'data'
  /** `.rodata`, `.rodata.*` */
  | 'rodata'
  /** `.bss`, `.bss.*` */
  | 'bss'
  /** The `.kconfig` map libbpf makes for `__kconfig` externs. */
  | 'kconfig'
  /** The inner-map template of a map-in-map. */
  | 'inner';

/** An initial element of a prog array (a program name) or map-of-maps (a map name). */
export interface MapSlot {
  readonly index: number;
  /** ProgramSpec name (prog array) or MapSpec name (map-in-map). */
  readonly name: string;
}

/** A map, as the object defines it. */
export interface MapSpec {
  /** Variable name of a `.maps`/`maps` definition; section name of a global-data map. */
  readonly name: string;
  readonly origin: MapOrigin;
  /** ELF section the definition lives in (for `.kconfig`: the extern section). */
  readonly section: string;
  /** MapType (BPF_MAP_TYPE_*). */
  readonly type: number;
  readonly keySize: number;
  readonly valueSize: number;
  readonly maxEntries: number;
  /** map_flags (BPF_F_*). */
  readonly flags: number;
  readonly numaNode: number;
  /** map_extra (bloom filter hashes, arena address), as a u64. */
  readonly mapExtra: bigint;
  /** PinType: 0 none, 1 by name. */
  readonly pinning: number;
  /** BTF type id of the key (0: none). */
  readonly keyTypeId: number;
  /** BTF type id of the value (0: none); a DATASEC for global-data maps. */
  readonly valueTypeId: number;
  /** The inner-map template of an array/hash of maps defined with `__array(values, …)`. */
  readonly innerMap: MapSpec | undefined;
  /** Initial slots of a prog array or map-of-maps (`.values = { [i] = &x }`). */
  readonly slots: readonly MapSlot[];
  /**
   * Initial value of the single element of a global-data map (the section's bytes, zeros
   * for `.bss` and `.kconfig`), in the object's byte order. setConstant/setVariable write here.
   */
  readonly data: Uint8Array | undefined;
  /** Bytes after the five fields of a legacy `struct bpf_map_def` (iproute2 extensions). */
  readonly extra: Uint8Array | undefined;
}

/** Linkage of a global variable (BTF_VAR_*). */
export type VariableLinkage = 'static' | 'global' | 'extern';

/** A global variable in a data section. */
export interface VariableSpec {
  readonly name: string;
  /** Its section, which is also the name of the map holding it. */
  readonly section: string;
  readonly offset: number;
  readonly size: number;
  /** BTF type id of the variable's type (0 when the object has no BTF). */
  readonly typeId: number;
  readonly linkage: VariableLinkage;
  /** In a `.rodata*` section: read-only to programs, frozen after load. */
  readonly constant: boolean;
}

/** How libbpf interprets a `.kconfig` extern's type (libbpf: enum kcfg_type). */
export type KconfigType = 'bool' | 'tristate' | 'char' | 'int' | 'char_array';

/** An `extern` the loader must resolve: a `__kconfig` value or a `__ksym` kernel symbol. */
export type ExternSpec =
  | {
    readonly kind: 'kconfig';
    readonly name: string;
    /** `__weak`: may stay unresolved (zero). */
    readonly weak: boolean;
    /** BTF VAR id. */
    readonly btfId: number;
    /** Where the value goes in the `.kconfig` map (libbpf's layout). */
    readonly offset: number;
    readonly size: number;
    readonly type: KconfigType;
    readonly signed: boolean;
  }
  | {
    readonly kind: 'ksym';
    readonly name: string;
    readonly weak: boolean;
    /** BTF VAR id (a variable) or FUNC id (a kfunc). */
    readonly btfId: number;
    /** A kfunc (called) rather than a variable (addressed). */
    readonly func: boolean;
    /** BTF id of the variable's type after modifiers/typedefs; 0 for a typeless `void` ksym. */
    readonly typeId: number;
  };

/** Options of `loadObjectSpec`. */
export interface LoadObjectOptions {
  /**
   * Program type (and attach type) for programs whose section libbpf does not know, keyed by
   * program name or section name. A known section may be overridden too.
   */
  programTypes?: Readonly<Record<string, { type: number; expectedAttachType?: number; attachTarget?: string }>>;
  /**
   * Reject unknown fields in BTF map definitions, as libbpf does by default (its
   * `relaxed_maps` option is the opposite). Default true.
   */
  strictMaps?: boolean;
}

/** Everything `ObjectSpec` holds, as plain data. */
export interface ObjectSpecData {
  readonly programs: readonly ProgramSpec[];
  readonly maps: readonly MapSpec[];
  readonly variables: readonly VariableSpec[];
  readonly externs: readonly ExternSpec[];
  /** The object's BTF (`.BTF`), when it has one. */
  readonly btf: Btf | undefined;
  /** Contents of the `license` section ('' when absent). */
  readonly license: string;
  /** Contents of the `version` section (0 when absent). */
  readonly kernelVersion: number;
  /** The object's byte order: global data and map bytes are in it. */
  readonly bigEndian: boolean;
}
