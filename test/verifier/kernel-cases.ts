/**
 * Small assembled programs compared with the running kernel: each is loaded into the kernel
 * (with maps whose values hold a bpf_spin_lock or a bpf_timer, described by a small BTF, and
 * BTF func_info for its functions) and verified by us with the same maps; the verdicts must
 * agree. Used by the verifier tests of special fields, map lookups, global functions and
 * socket references.
 */
import { assemble, toSlots, encodeSlots, type RawInstruction } from '../../src/isa/index.js';
import { KernelError, createMap, loadBtf, loadProgram, type KernelBtf, type KernelMap } from '../../src/kernel/index.js';
import { MapType, ProgramType } from '../../src/object/uapi-types.js';
import { parseBtf } from '../../src/btf/index.js';
import { verify, type FuncInfo, type MapInfo } from '../../src/verifier/index.js';
import { describeGlobalFunc } from '../../src/verifier/global-func.js';

/** A small raw BTF builder: types are added in order, ids from 1. */
class BtfBuilder {
  readonly words: number[] = [];
  readonly strings: string[] = [''];
  #strOff = 1;
  #count = 0;
  str(s: string): number {
    if (s === '') return 0;
    const off = this.#strOff;
    this.strings.push(s);
    this.#strOff += s.length + 1;
    return off;
  }
  add(...words: number[]): number {
    this.words.push(...words);
    return ++this.#count;
  }
  struct(name: string, size: number, members: readonly [string, number, number][]): number {
    return this.add(this.str(name), (4 << 24) | members.length, size, ...members.flatMap(([n, t, bits]) => [this.str(n), t, bits]));
  }
  proto(ret: number, params: readonly [string, number][]): number {
    return this.add(0, (13 << 24) | params.length, ret, ...params.flatMap(([n, t]) => [this.str(n), t]));
  }
  func(name: string, linkage: number, proto: number): number {
    return this.add(this.str(name), (12 << 24) | linkage, proto);
  }
  bytes(): Uint8Array {
    const strBytes = new TextEncoder().encode(this.strings.join('\0') + '\0');
    const typeLen = this.words.length * 4;
    const out = new Uint8Array(24 + typeLen + strBytes.length);
    const v = new DataView(out.buffer);
    v.setUint16(0, 0xeb9f, true);
    v.setUint8(2, 1);
    v.setUint32(4, 24, true);
    v.setUint32(12, typeLen, true);
    v.setUint32(16, typeLen, true);
    v.setUint32(20, strBytes.length, true);
    this.words.forEach((w, i) => v.setUint32(24 + i * 4, w >>> 0, true));
    out.set(strBytes, 24 + typeLen);
    return out;
  }
}

/** FUNC type ids of the case BTF by name, with their linkage. */
export const FUNCS: Record<string, { typeId: number; linkage: number }> = {};

/**
 * The BTF the cases use: int, struct bpf_spin_lock, struct val { int cnt; struct bpf_spin_lock l; }
 * (lock at 4), struct bpf_timer, struct elem { int cnt; struct bpf_timer t; } (timer at 8), an
 * empty struct __sk_buff, and FUNCs: static `main` and `cb`, and global functions of several
 * prototypes (see GLOBALS).
 */
function caseBtf(): { bytes: Uint8Array; valId: number; elemId: number } {
  const b = new BtfBuilder();
  const int = b.add(b.str('int'), 1 << 24, 4, (1 << 24) | 32);
  const lock = b.struct('bpf_spin_lock', 4, [['val', int, 0]]);
  const val = b.struct('val', 8, [['cnt', int, 0], ['l', lock, 32]]);
  const timer = b.struct('bpf_timer', 16, []);
  const elem = b.struct('elem', 24, [['cnt', int, 0], ['t', timer, 64]]);
  const skb = b.struct('__sk_buff', 0, []);
  const ptr = (t: number): number => b.add(0, 2 << 24, t);
  const skbPtr = ptr(skb);
  const voidPtr = ptr(0);
  const intPtr = ptr(int);
  const long = b.add(b.str('long'), 1 << 24, 8, (1 << 24) | 64);
  const pair = b.struct('pair', 16, [['a', long, 0], ['b', long, 64]]);
  const pairPtr = ptr(pair);
  const intVoid = b.proto(int, []);
  const fn = (name: string, linkage: number, proto: number): void => { FUNCS[name] = { typeId: b.func(name, linkage, proto), linkage }; };
  fn('main', 0, intVoid);
  fn('cb', 0, intVoid);
  fn('glob', 1, intVoid);
  fn('gscalar', 1, b.proto(int, [['a', int], ['b', long]]));
  fn('gctx', 1, b.proto(int, [['ctx', skbPtr]]));
  fn('gctxint', 1, b.proto(int, [['ctx', skbPtr], ['a', int]]));
  fn('gint', 1, b.proto(int, [['p', intPtr]]));
  fn('gpair', 1, b.proto(int, [['p', pairPtr], ['n', int]]));
  fn('gvoidp', 1, b.proto(int, [['p', voidPtr]]));
  fn('gvoidret', 1, b.proto(0, [['a', int]]));
  return { bytes: b.bytes(), valId: val, elemId: elem };
}

/** The maps a case may name as `MAP_<name>` in `rX = MAP_<name> ll`. */
const MAP_SPECS: Readonly<Record<string, { type: number; keySize: number; valueSize: number; maxEntries: number; flags?: number; btfValue?: 'val' | 'elem'; info: Partial<MapInfo> }>> = {
  L: { type: MapType.ARRAY, keySize: 4, valueSize: 8, maxEntries: 2, btfValue: 'val', info: { spinLockOff: 4 } },
  HL: { type: MapType.HASH, keySize: 4, valueSize: 8, maxEntries: 4, btfValue: 'val', info: { spinLockOff: 4 } },
  T: { type: MapType.ARRAY, keySize: 4, valueSize: 24, maxEntries: 2, btfValue: 'elem', info: { timerOff: 8 } },
  T2: { type: MapType.ARRAY, keySize: 4, valueSize: 24, maxEntries: 2, btfValue: 'elem', info: { timerOff: 8 } },
  HT: { type: MapType.HASH, keySize: 4, valueSize: 24, maxEntries: 4, btfValue: 'elem', info: { timerOff: 8 } },
  A: { type: MapType.ARRAY, keySize: 4, valueSize: 8, maxEntries: 4, info: {} },
  A8: { type: MapType.ARRAY, keySize: 4, valueSize: 8, maxEntries: 0x10000, info: {} },
  PA: { type: MapType.PERCPU_ARRAY, keySize: 4, valueSize: 8, maxEntries: 4, info: {} },
  H: { type: MapType.HASH, keySize: 4, valueSize: 8, maxEntries: 4, info: {} },
  SM: { type: MapType.SOCKMAP, keySize: 4, valueSize: 4, maxEntries: 4, info: {} },
  SH: { type: MapType.SOCKHASH, keySize: 4, valueSize: 4, maxEntries: 4, info: {} },
  XSK: { type: MapType.XSKMAP, keySize: 4, valueSize: 4, maxEntries: 4, info: {} },
  PROG: { type: MapType.PROG_ARRAY, keySize: 4, valueSize: 4, maxEntries: 4, info: {} },
  SKS: { type: MapType.SK_STORAGE, keySize: 4, valueSize: 8, maxEntries: 0, flags: 1 /* NO_PREALLOC */, btfValue: 'val', info: { spinLockOff: 4 } },
};

const MAP_MAGIC = 0x7ee00000;
const FUNC_MAGIC = 0x7ef00000;

export interface KernelCase {
  readonly name: string;
  /** Kernel-log assembly; `rX = MAP_<name> ll` names a map, `rX = FUNC_<label> ll` a function's address. */
  readonly text: string;
  readonly progType?: number;
  /** Functions (labels) other than the entry, with the FUNC they are typed as (`cb`, `glob`, `gfn`); func_info is passed when given. */
  readonly funcs?: readonly (readonly [label: string, func: string])[];
}

export interface CaseOutcome {
  readonly name: string;
  readonly kernel: 'accept' | 'reject';
  readonly kernelMessage: string;
  readonly ours: 'accept' | 'reject';
  readonly ourMessage: string;
}

/** Slot index of `label:` in `lines`. */
function labelSlot(lines: readonly string[], label: string): number {
  const at = lines.findIndex((l) => l.trim().startsWith(`${label}:`));
  if (at < 0) throw new Error(`no label ${label}`);
  const before = lines.slice(0, at).join('\n');
  // Only the slot count matters: forward jumps and calls are replaced by ones of the same size.
  const sized = before.replace(/MAP_\w+|FUNC_\w+/g, '0').replace(/\bgoto [A-Za-z_]\w*\s*$/gm, 'goto pc+0')
    .replace(/\bcall [A-Za-z_]\w*\s*$/gm, 'call pc+0').replace(/^\s*[A-Za-z_]\w*:\s*$/gm, '');
  return before.trim() === '' ? 0 : toSlots(assemble(sized)).length;
}

/** Loads every case into the kernel and verifies it with ours. */
export function runKernelCases(cases: readonly KernelCase[]): CaseOutcome[] {
  let btf: KernelBtf | undefined;
  const maps = new Map<string, KernelMap>();
  try {
    const built = caseBtf();
    btf = loadBtf(built.bytes);
    const parsed = parseBtf(built.bytes);
    const infos = new Map<number, MapInfo>();
    for (const [name, spec] of Object.entries(MAP_SPECS)) {
      const map = createMap({
        type: spec.type, keySize: spec.keySize, valueSize: spec.valueSize, maxEntries: spec.maxEntries, flags: spec.flags ?? 0,
        ...(spec.btfValue !== undefined ? { btfFd: btf.fd, btfKeyTypeId: 1, btfValueTypeId: spec.btfValue === 'val' ? built.valId : built.elemId, name: `case_${name.toLowerCase()}` } : {}),
      });
      maps.set(name, map);
      infos.set(map.fd, { type: spec.type, keySize: spec.keySize, valueSize: spec.valueSize, maxEntries: spec.maxEntries, flags: spec.flags ?? 0, id: map.fd, ...spec.info });
    }
    return cases.map((c) => {
      const lines = c.text.split('\n');
      const mapNames: string[] = [];
      const funcLabels: string[] = [];
      const text = c.text.replace(/MAP_(\w+)/g, (_, n: string) => { mapNames.push(n); return String(MAP_MAGIC + mapNames.length - 1); })
        .replace(/FUNC_(\w+)/g, (_, n: string) => { funcLabels.push(n); return String(FUNC_MAGIC + funcLabels.length - 1); });
      const insns: RawInstruction[] = toSlots(assemble(text)).map((r) => ({ ...r }));
      for (let i = 0; i < insns.length; i++) {
        const r = insns[i]!;
        if (r.code !== 0x18) continue;
        if (r.imm >= MAP_MAGIC && r.imm < MAP_MAGIC + mapNames.length) {
          const map = maps.get(mapNames[r.imm - MAP_MAGIC]!);
          if (map === undefined) throw new Error(`case ${c.name}: no map ${mapNames[r.imm - MAP_MAGIC]}`);
          insns[i] = { ...r, src: 1, imm: map.fd };
        } else if (r.imm >= FUNC_MAGIC && r.imm < FUNC_MAGIC + funcLabels.length) {
          insns[i] = { ...r, src: 4, imm: labelSlot(lines, funcLabels[r.imm - FUNC_MAGIC]!) - i - 1 };
        }
        i++;
      }
      const progType = c.progType ?? ProgramType.SCHED_CLS;
      const records = c.funcs === undefined ? undefined : [
        { insnOff: 0, typeId: FUNCS.main!.typeId },
        ...c.funcs.map(([label, fn]) => ({ insnOff: labelSlot(lines, label), typeId: FUNCS[fn]!.typeId })),
      ].sort((a, b) => a.insnOff - b.insnOff);
      let kernel: 'accept' | 'reject' = 'accept';
      let kernelMessage = '';
      try {
        loadProgram({
          type: progType, instructions: encodeSlots(insns), license: 'GPL', logLevel: 1, logSize: 1 << 20,
          ...(records !== undefined ? { btf: btf!.fd, funcInfo: records } : {}),
        }).close();
      } catch (err) {
        if (!(err instanceof KernelError)) throw err;
        kernel = 'reject';
        const logLines = (err.log ?? '').trim().split('\n').filter((l) => l && !l.startsWith('processed ') && !l.startsWith('verification time'));
        kernelMessage = logLines[logLines.length - 1] ?? err.message;
      }
      const funcInfo: FuncInfo[] | undefined = records?.map((r) => {
        const name = Object.keys(FUNCS).find((k) => FUNCS[k]!.typeId === r.typeId)!;
        const linkage = FUNCS[name]!.linkage;
        return { insn: r.insnOff, linkage, scalarReturn: name !== 'gvoidret', name,
          ...(linkage === 1 ? describeGlobalFunc(parsed, r.typeId, progType) : {}) };
      });
      const ours = verify(insns, { progType, maps: (fd) => infos.get(fd), ...(funcInfo !== undefined ? { funcInfo } : {}) });
      return { name: c.name, kernel, kernelMessage, ours: ours.verdict, ourMessage: ours.error?.message ?? '' };
    });
  } finally {
    for (const m of maps.values()) m.close();
    btf?.close();
  }
}

/** The cases whose verdicts differ, described. */
export function disagreements(outcomes: readonly CaseOutcome[]): string[] {
  return outcomes.filter((o) => o.kernel !== o.ours)
    .map((o) => `${o.name}: kernel ${o.kernel}${o.kernelMessage ? ` (${o.kernelMessage})` : ''}, ours ${o.ours}${o.ourMessage ? ` (${o.ourMessage})` : ''}`);
}
