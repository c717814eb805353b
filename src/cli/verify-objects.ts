/**
 * The verifier against the kernel on whole eBPF objects: each object is loaded with
 * `loadObject` (CO-RE applied against the kernel's BTF, maps created, references completed),
 * every BPF_PROG_LOAD and BPF_MAP_CREATE it makes is recorded through a wrapping syscall layer,
 * and the exact instructions the kernel saw are then checked by our verifier with the same
 * maps. The kernel's verdict is the oracle. Node only.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { decodeSlots } from '../isa/index.js';
import { loadObject, nativeSyscalls, type Syscalls, type UserMemory } from '../kernel/index.js';
import { PROG_LOAD } from '../kernel/attr.js';
import { parseBtf } from '../btf/index.js';
import { loadObjectSpec, type LoadObjectOptions } from '../object/index.js';
import { verify, type FuncInfo, type MapInfo, type VerifyOptions } from '../verifier/index.js';
import { licenseIsGplCompatible } from '../verifier/ctx-tracing.js';
import { type ExceptionCallback, ExceptionCallbackError, findExceptionCallback } from '../verifier/exception.js';
import { vmlinuxBtf } from '../kernel/link/btf-target.js';
import { mapFieldInfo } from '../vm/object/btf-fields.js';
import { describeGlobalFunc } from '../verifier/global-func.js';

/** One program of an object: what the kernel and we decided. */
export interface ObjectProgramVerdict {
  readonly object: string;
  readonly name: string;
  readonly progType: number;
  readonly kernel: 'accept' | 'reject';
  readonly ours: 'accept' | 'reject';
  /** Our reason for a rejection. */
  readonly reason?: string;
}

const BPF_MAP_CREATE = 0;
const BPF_MAP_UPDATE_ELEM = 2;
const BPF_PROG_LOAD = 5;
const BPF_BTF_LOAD = 18;
const BPF_MAP_FREEZE = 22;

interface RecordedLoad {
  readonly progType: number;
  readonly attachType: number;
  readonly flags: number;
  readonly name: string;
  readonly insns: Uint8Array;
  readonly accepted: boolean;
  /** prog_btf_fd and the func_info records (insn_off, type_id), when the loader passed them. */
  readonly btfFd: number;
  readonly funcInfo: readonly (readonly [number, number])[];
  /** Tracing: attach_btf_id, attach_btf_obj_fd (0: vmlinux) and the license. */
  readonly attachBtfId: number;
  readonly attachBtfObjFd: number;
  readonly license: string;
}

/** What the loader did to the maps and BTF it created: the rest of what the kernel's verifier sees. */
interface Recorded {
  readonly loads: RecordedLoad[];
  readonly maps: Map<number, MapInfo>;
  /** Value of key 0 set with BPF_MAP_UPDATE_ELEM, by map fd. */
  readonly values: Map<number, Uint8Array>;
  readonly frozen: Set<number>;
  /** BPF_BTF_LOAD blobs by fd. */
  readonly btf: Map<number, Uint8Array>;
}

export interface CompareOptions {
  /**
   * Program types for sections libbpf's table does not know (`{ checksum: { type: ProgramType.SOCKET_FILTER } }`),
   * as loadObjectSpec's `programTypes`.
   */
  readonly programTypes?: LoadObjectOptions['programTypes'];
}

/** kernel: btf_parse_fields — the special struct names whose presence in a map value we do not model. */
const SPECIAL_NAMES = /bpf_spin_lock|bpf_timer|bpf_wq|bpf_list_head|bpf_rb_root|bpf_refcount|bpf_res_spin_lock|kptr/;

/** A syscall layer that passes everything to `inner` and records program loads and map creations. */
function recordingSyscalls(inner: Syscalls, rec: Recorded, special: boolean): Syscalls {
  const { loads, maps } = rec;
  const memory = new Map<bigint, Uint8Array>();
  const own: Partial<Syscalls> = {
    withMemory: <T>(use: (m: UserMemory) => T): T => inner.withMemory((m) => use({
      input: (bytes: Uint8Array) => {
        const address = m.input(bytes);
        memory.set(address, bytes.slice());
        return address;
      },
      output: (size: number, init?: Uint8Array) => m.output(size, init),
    })),
    bpf: (cmd: number, attr: Uint8Array): number => {
      const result = inner.bpf(cmd, attr);
      const view = new DataView(attr.buffer, attr.byteOffset, attr.byteLength);
      if (cmd === BPF_MAP_CREATE && result >= 0) {
        const innerFd = view.getUint32(20, true);
        const innerInfo = innerFd !== 0 ? maps.get(innerFd) : undefined;
        maps.set(result, {
          type: view.getUint32(0, true), keySize: view.getUint32(4, true), valueSize: view.getUint32(8, true),
          maxEntries: view.getUint32(12, true), flags: view.getUint32(16, true), id: result,
          // The value's special fields from its BTF: a spin lock and a timer by offset, others refused by our verifier.
          ...(special && view.getUint32(56, true) !== 0 ? valueFields(rec.btf.get(view.getUint32(48, true)), view.getUint32(56, true)) : {}),
          ...(innerInfo === undefined ? {} : { inner: innerInfo }),
        });
      } else if (cmd === BPF_MAP_UPDATE_ELEM && result >= 0) {
        const key = memory.get(view.getBigUint64(8, true));
        const value = memory.get(view.getBigUint64(16, true));
        const fd = view.getUint32(0, true);
        if (key !== undefined && value !== undefined && key.every((b) => b === 0)) rec.values.set(fd, value.slice());
      } else if (cmd === BPF_MAP_FREEZE && result >= 0) {
        rec.frozen.add(view.getUint32(0, true));
      } else if (cmd === BPF_BTF_LOAD && result >= 0) {
        const blob = memory.get(view.getBigUint64(0, true));
        if (blob !== undefined) rec.btf.set(result, blob.subarray(0, view.getUint32(16, true)));
      } else if (cmd === BPF_PROG_LOAD) {
        const count = view.getUint32(PROG_LOAD.insn_cnt, true);
        const bytes = memory.get(view.getBigUint64(PROG_LOAD.insns, true));
        const nameBytes = attr.subarray(PROG_LOAD.prog_name, PROG_LOAD.prog_name + 16);
        const name = new TextDecoder().decode(nameBytes.subarray(0, Math.max(0, nameBytes.indexOf(0)) || 16));
        const recSize = view.getUint32(PROG_LOAD.func_info_rec_size, true);
        const fiCount = view.getUint32(PROG_LOAD.func_info_cnt, true);
        const fiBytes = fiCount > 0 ? memory.get(view.getBigUint64(PROG_LOAD.func_info, true)) : undefined;
        const funcInfo: [number, number][] = [];
        if (fiBytes !== undefined && recSize >= 8) {
          const fv = new DataView(fiBytes.buffer, fiBytes.byteOffset, fiBytes.byteLength);
          for (let i = 0; i < fiCount && (i + 1) * recSize <= fiBytes.length; i++) {
            funcInfo.push([fv.getUint32(i * recSize, true), fv.getUint32(i * recSize + 4, true)]);
          }
        }
        if (bytes !== undefined && bytes.length === count * 8) {
          loads.push({
            progType: view.getUint32(PROG_LOAD.prog_type, true), attachType: view.getUint32(PROG_LOAD.expected_attach_type, true),
            flags: view.getUint32(PROG_LOAD.prog_flags, true), name, insns: bytes, accepted: result >= 0,
            btfFd: view.getUint32(PROG_LOAD.prog_btf_fd, true), funcInfo,
            attachBtfId: view.getUint32(PROG_LOAD.attach_btf_id, true), attachBtfObjFd: view.getUint32(PROG_LOAD.attach_prog_fd, true),
            license: cStringAt(memory.get(view.getBigUint64(PROG_LOAD.license, true))),
          });
        }
      }
      return result;
    },
  };
  // The inner layer may be a class instance: its other methods are forwarded bound to it.
  return new Proxy(inner, {
    get: (target, prop, receiver) => {
      if (prop in own) return (own as Record<string | symbol, unknown>)[prop];
      const value: unknown = Reflect.get(target, prop, receiver);
      return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
    },
  });
}

/**
 * Loads the object at `path` into the kernel (every program, failures allowed) and verifies
 * each program the kernel was asked to load with our verifier. Probe loads the loader makes
 * (feature checks) are included only when they carry a program name of the object.
 */
export function compareObjectWithKernel(path: string, options: CompareOptions = {}): ObjectProgramVerdict[] {
  const bytes = readFileSync(path);
  const spec = loadObjectSpec(bytes, options.programTypes === undefined ? {} : { programTypes: options.programTypes });
  const names = new Set(spec.programs.map((p) => p.name.slice(0, 15).replace(/[^A-Za-z0-9_.]/g, '_')));
  const special = spec.btf !== undefined && [...spec.btf.own].some((t) => 'name' in t && typeof t.name === 'string' && SPECIAL_NAMES.test(t.name));
  const rec: Recorded = { loads: [], maps: new Map(), values: new Map(), frozen: new Set(), btf: new Map() };
  const syscalls = recordingSyscalls(nativeSyscalls(), rec, special);
  const objectName = path.split('/').pop()!.split('.')[0]!;
  const out: ObjectProgramVerdict[] = [];
  let obj: ReturnType<typeof loadObject> | undefined;
  // Maps pinned by name go to a scratch bpffs directory, never the real /sys/fs/bpf.
  const pinPath = mkdtempSync('/sys/fs/bpf/ebpf-verify-');
  try {
    obj = loadObject(spec, { partial: true, syscalls, objectName, pinPath });
    for (const load of rec.loads) {
      if (!names.has(load.name)) continue;
      const funcInfo = funcInfoOf(load, rec.btf);
      // Exceptions (verifier/exception.ts): the callback the program's BTF names; a bad declaration is our rejection.
      let exceptionCallback: ExceptionCallback | undefined;
      try {
        exceptionCallback = exceptionCallbackOf(load, rec.btf);
      } catch (err) {
        if (!(err instanceof ExceptionCallbackError)) throw err;
        out.push({ object: path, name: load.name, progType: load.progType, kernel: load.accepted ? 'accept' : 'reject', ours: 'reject', reason: err.message });
        continue;
      }
      const result = verify(decodeSlots(load.insns), {
        progType: load.progType, expectedAttachType: load.attachType, flags: load.flags, maps: (fd) => mapInfo(rec, fd),
        ...(funcInfo === undefined ? {} : { funcInfo }),
        ...tracingOptions(load),
        ...(exceptionCallback === undefined ? {} : { exceptionCallback }),
      });
      out.push({
        object: path, name: load.name, progType: load.progType, kernel: load.accepted ? 'accept' : 'reject',
        ours: result.error === undefined ? 'accept' : 'reject',
        ...(result.error === undefined ? {} : { reason: `${result.error.message} (insn ${result.error.insn})` }),
      });
    }
  } finally {
    obj?.dispose();
    rmSync(pinPath, { recursive: true, force: true });
  }
  return out;
}

/** The exception callback the program's BTF names (kernel: bpf_find_exception_callback_insn_off). */
function exceptionCallbackOf(load: RecordedLoad, blobs: ReadonlyMap<number, Uint8Array>): ExceptionCallback | undefined {
  const blob = load.funcInfo.length > 0 ? blobs.get(load.btfFd) : undefined;
  if (blob === undefined) return undefined;
  return findExceptionCallback(parseBtf(blob), load.funcInfo.map(([insnOff, typeId]) => ({ insnOff, typeId })));
}

/** kernel: btf_parse_fields on the map's value type, from the BTF blob the loader passed; unknown BTF counts as unmodelled fields. */
function valueFields(blob: Uint8Array | undefined, valueTypeId: number): Pick<MapInfo, 'hasSpecialFields' | 'spinLockOff' | 'timerOff'> {
  if (blob === undefined) return { hasSpecialFields: true };
  try {
    return mapFieldInfo(parseBtf(blob), valueTypeId);
  } catch {
    return { hasSpecialFields: true };
  }
}

/** A NUL-terminated string from recorded user memory. */
function cStringAt(bytes: Uint8Array | undefined): string {
  if (bytes === undefined) return '';
  const end = bytes.indexOf(0);
  return new TextDecoder().decode(end < 0 ? bytes : bytes.subarray(0, end));
}

/**
 * Tracing: the kernel BTF, the attach target and the license, as the kernel's verifier sees
 * them. A target in a module's BTF (attach_btf_obj_fd) is not passed: our verifier then
 * rejects the program as not modelled.
 */
function tracingOptions(load: RecordedLoad): Pick<VerifyOptions, 'btf' | 'attachBtfId' | 'gplCompatible'> {
  const gplCompatible = licenseIsGplCompatible(load.license);
  if (load.attachBtfObjFd !== 0) return { gplCompatible };
  return { btf: vmlinuxBtf(), gplCompatible, ...(load.attachBtfId !== 0 ? { attachBtfId: load.attachBtfId } : {}) };
}

/** The map as the verifier sees it now: frozen maps with their contents (a frozen array never updated is zeros). */
function mapInfo(rec: Recorded, fd: number): MapInfo | undefined {
  const m = rec.maps.get(fd);
  if (m === undefined || !rec.frozen.has(fd)) return m;
  const data = rec.values.get(fd) ?? new Uint8Array(m.valueSize);
  return { ...m, frozen: true, ...(data.length === m.valueSize ? { data } : {}) };
}

/** kernel: check_btf_func: each record's FUNC type, its linkage and whether it returns a scalar. */
function funcInfoOf(load: RecordedLoad, blobs: ReadonlyMap<number, Uint8Array>): FuncInfo[] | undefined {
  if (load.funcInfo.length === 0) return undefined;
  const blob = blobs.get(load.btfFd);
  if (blob === undefined) return undefined;
  const btf = parseBtf(blob);
  return load.funcInfo.map(([insn, typeId]) => {
    const fn = btf.type(typeId);
    if (fn.kind !== 'func') throw new Error(`func_info type ${typeId} is not a FUNC`);
    const proto = btf.type(fn.type);
    if (proto.kind !== 'func_proto') throw new Error(`FUNC ${fn.name} does not name a FUNC_PROTO`);
    let ret = btf.type(proto.returnType);
    for (let i = 0; i < 32 && (ret.kind === 'typedef' || ret.kind === 'const' || ret.kind === 'volatile' || ret.kind === 'restrict' || ret.kind === 'type_tag'); i++) {
      ret = btf.type(ret.type);
    }
    const scalarReturn = (ret.kind === 'int' && ret.size <= 8) || ret.kind === 'enum' || ret.kind === 'enum64';
    // Global functions are verified on their own, with the arguments their BTF types.
    const signature = fn.linkage === 1 ? describeGlobalFunc(btf, typeId, load.progType) : {};
    return { insn, linkage: fn.linkage, scalarReturn, name: fn.name, ...signature };
  });
}
