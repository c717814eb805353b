/**
 * The verifier run on every program the VM loads, as the kernel runs its own at
 * BPF_PROG_LOAD: after the maps exist, on the instructions the interpreter will run, with each
 * map reference standing for the VM map it names. A rejection is a {@link VerifierError} with
 * the verifier's words, the instruction and the log.
 */
import type { Btf } from '../../btf/btf.js';
import { VerifierError } from '../../errors.js';
import type { Instruction, LddwInstruction } from '../../isa/instruction.js';
import type { MapSpec, ProgramSpec } from '../../object/spec.js';
import { ProgramType } from '../../object/uapi-types.js';
import { licenseIsGplCompatible, verify, type FuncInfo, type MapInfo, type VerifyOptions, type VerifyResult } from '../../verifier/index.js';
import { funcInfoFromBtf } from '../../verifier/global-func.js';
import { ExceptionCallbackError, findExceptionCallback, type ExceptionCallback } from '../../verifier/exception.js';
import { ArrayOfMapsMap } from '../maps/fd-array.js';
import { HashOfMapsMap } from '../maps/hash-of-maps.js';
import { BaseMap, type VmMap } from '../maps/map.js';
import { mapFieldInfo } from './btf-fields.js';
import { MapType } from '../maps/flags.js';


/** How the VM verifies its programs. */
export interface VmVerifierOptions {
  /** 1 keeps the instructions of each path in the error's log, 2 the states too; default 1. */
  logLevel?: 1 | 2;
}

/** Special fields the verifier models: a map value holding only these is described by their offsets. */
/**
 * The program's BTF func_info as the verifier takes it, as the kernel gets it at BPF_PROG_LOAD
 * (global functions are then verified on their own; callbacks need it). Undefined when the
 * object has no BTF or its records do not name exactly the program's functions.
 */
function vmFuncInfo(program: ProgramSpec, instructions: readonly Instruction[], btf: Btf | undefined, exceptionCallback?: number): FuncInfo[] | undefined {
  if (btf === undefined || program.funcInfo.length === 0) return undefined;
  const starts = new Set<number>([0]);
  if (exceptionCallback !== undefined) starts.add(exceptionCallback);
  let slot = 0;
  for (const insn of instructions) {
    if (insn.kind === 'call' && insn.target === 'local') starts.add(slot + insn.imm + 1);
    if (insn.kind === 'lddw' && insn.src === 4) starts.add(slot + insn.imm + 1);
    slot += insn.kind === 'lddw' ? 2 : 1;
  }
  const records = [...program.funcInfo].sort((a, b) => a.slot - b.slot);
  if (records.length !== starts.size || records.some((r) => !starts.has(r.slot))) return undefined;
  try {
    return funcInfoFromBtf(btf, records.map((r) => ({ insn: r.slot, typeId: r.typeId })), program.type);
  } catch {
    return undefined;
  }
}

/** Program types whose attach target is a BTF type of the kernel (tp_btf/fentry/iter/lsm/freplace). */
const BTF_TARGET_TYPES: ReadonlySet<number> = new Set([ProgramType.TRACING, ProgramType.LSM, ProgramType.EXT]);

/** How a program is verified: the log, the kernel's BTF for tracing programs, the structured log. */
export interface VmVerifyProgramOptions {
  logLevel?: 0 | 1 | 2;
  /** vmlinux BTF: types the contexts of tracing programs (tp_btf, iter, …); without it they are refused. */
  kernelBtf?: Btf;
  onStep?: VerifyOptions['onStep'];
  /** False: check as for a loader without CAP_BPF/CAP_SYS_ADMIN (default true). */
  privileged?: boolean;
}

/**
 * Verifies `instructions` (program `program`, CO-RE applied) with the VM maps they name, and
 * returns the verifier's result with the instructions as verified (map references as ids).
 */
export function verifyVmProgramResult(
  program: ProgramSpec,
  instructions: readonly Instruction[],
  maps: { readonly mapFor: (name: string) => VmMap; readonly specs: readonly MapSpec[]; readonly btf: Btf | undefined },
  options: VmVerifyProgramOptions = {},
): { result: VerifyResult; instructions: Instruction[] } {
  const infos = new Map<number, MapInfo>();
  const specByName = new Map(maps.specs.map((m) => [m.name, m]));
  const describe = (map: VmMap, spec: MapSpec | undefined): MapInfo => {
    const inner = map instanceof ArrayOfMapsMap || map instanceof HashOfMapsMap ? map.innerMeta : undefined;
    return {
      type: map.type, keySize: map.keySize, valueSize: map.valueSize, maxEntries: map.maxEntries, flags: map.flags, id: map.id,
      ...(spec !== undefined ? mapFieldInfo(maps.btf, spec.valueTypeId) : {}),
      ...(inner === undefined ? {} : { inner: describe(inner, spec?.innerMap) }),
      ...frozenContents(map),
    };
  };
  const bySlot = new Map(program.references.map((r) => [r.slot, r]));
  let slot = 0;
  const patched = instructions.map((insn): Instruction => {
    const at = slot;
    slot += insn.kind === 'lddw' ? 2 : 1;
    if (insn.kind === 'call' && insn.target === 'kfunc') {
      // A kfunc names a FUNC of the kernel's BTF by id, as libbpf resolves it at load.
      const ref = bySlot.get(at);
      const id = ref?.kind === 'kfunc' && options.kernelBtf !== undefined ? options.kernelBtf.findByName(ref.extern, 'func')[0] : undefined;
      return id === undefined ? insn : { ...insn, imm: id };
    }
    if (insn.kind !== 'lddw') return insn;
    const ref = bySlot.get(at);
    if (ref === undefined || (ref.kind !== 'map' && ref.kind !== 'map_value')) return insn;
    const map = maps.mapFor(ref.map);
    infos.set(map.id, describe(map, specByName.get(ref.map)));
    const lddw: LddwInstruction = ref.kind === 'map'
      ? { ...insn, src: 1, imm: map.id, imm2: 0 }
      : { ...insn, src: 2, imm: map.id, imm2: ref.offset };
    return lddw;
  });
  // kernel: bpf_find_exception_callback_insn_off — the callback the main function's decl tag names.
  let exceptionCallback: ExceptionCallback | undefined;
  if (maps.btf !== undefined && program.funcInfo.length > 0) {
    const records = [...program.funcInfo].sort((a, b) => a.slot - b.slot).map((r) => ({ insnOff: r.slot, typeId: r.typeId }));
    try {
      exceptionCallback = findExceptionCallback(maps.btf, records);
    } catch (err) {
      if (!(err instanceof ExceptionCallbackError)) throw err;
      const log = (options.logLevel ?? 1) > 0 ? `${err.message}\n` : '';
      return { result: { verdict: 'reject', processed: 0, error: { insn: 0, message: err.message }, log, totalStates: 0, stackDepth: [] }, instructions: patched };
    }
  }
  const funcInfo = vmFuncInfo(program, patched, maps.btf, exceptionCallback?.insn);
  const result = verify(patched, {
    ...(exceptionCallback === undefined ? {} : { exceptionCallback }),
    ...(funcInfo === undefined ? {} : { funcInfo }),
    progType: program.type,
    expectedAttachType: program.expectedAttachType,
    flags: program.programFlags,
    maps: (fd) => infos.get(fd),
    logLevel: options.logLevel ?? 1,
    gplCompatible: licenseIsGplCompatible(program.license),
    ...(options.kernelBtf === undefined ? {} : { btf: options.kernelBtf }),
    ...(program.attachTarget === undefined || !BTF_TARGET_TYPES.has(program.type) ? {} : { attachTarget: program.attachTarget }),
    ...(options.onStep === undefined ? {} : { onStep: options.onStep }),
    ...(options.privileged === false ? { privileged: false } : {}),
  });
  return { result, instructions: patched };
}

/**
 * Verifies `instructions` (program `program`, CO-RE applied) with the VM maps they name.
 * Throws VerifierError when the verifier refuses it.
 */
export function verifyVmProgram(
  program: ProgramSpec,
  instructions: readonly Instruction[],
  maps: { readonly mapFor: (name: string) => VmMap; readonly specs: readonly MapSpec[]; readonly btf: Btf | undefined },
  options: VmVerifierOptions = {},
): void {
  const { result } = verifyVmProgramResult(program, instructions, maps, { logLevel: options.logLevel ?? 1 });
  if (result.error !== undefined) {
    throw new VerifierError(`load program '${program.name}'`, result.error.message, result.error.insn, result.log);
  }
}

/**
 * A frozen map as the verifier sees it (kernel: bpf_map_is_rdonly, map_direct_value_addr):
 * frozen, and for an array its value at key 0 — what constant-string arguments read.
 */
function frozenContents(map: VmMap): Pick<MapInfo, 'frozen' | 'data'> {
  if (!(map instanceof BaseMap) || !map.frozen) return {};
  if (map.type !== MapType.ARRAY || map.keySize !== 4) return { frozen: true };
  const value = map.lookup(new Uint8Array(4));
  return value instanceof Uint8Array && value.length === map.valueSize ? { frozen: true, data: value } : { frozen: true };
}
