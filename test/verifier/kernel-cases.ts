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
import { verify, type FuncInfo, type MapInfo } from '../../src/verifier/index.js';

/**
 * The BTF the cases use: [1] int, [2] struct bpf_spin_lock, [3] struct val { int cnt; struct
 * bpf_spin_lock l; } (lock at 4), [4] struct bpf_timer, [5] struct elem { int cnt; struct
 * bpf_timer t; } (timer at 8), [6] int (void), [7] int (int a, void *p, struct __sk_buff *ctx),
 * [8] struct __sk_buff (forward), [9] ptr to [8], [10] ptr to void, [11] ptr to [3] (struct val *),
 * then FUNCs [12] static `main`, [13] static `cb`, [14] global `glob` of [6], [15] global `gfn`
 * of [7], [16] global `gval` of int (struct val *v), [17] that proto.
 */
function caseBtf(): Uint8Array {
  const S = 4 << 24;
  const strings = ['', 'int', 'bpf_spin_lock', 'val', 'cnt', 'l', 'bpf_timer', 'elem', 't', '__sk_buff', 'a', 'p', 'ctx',
    'main', 'cb', 'glob', 'gfn', 'gval', 'v'];
  const off = new Map<string, number>();
  let pos = 0;
  for (const s of strings) { off.set(s, pos); pos += s.length + 1; }
  const o = (s: string): number => off.get(s)!;
  const types = [
    o('int'), 1 << 24, 4, (1 << 24) | 32, // [1] int
    o('bpf_spin_lock'), S | 1, 4, o('val'), 1, 0, // [2]
    o('val'), S | 2, 8, o('cnt'), 1, 0, o('l'), 2, 32, // [3]
    o('bpf_timer'), S, 16, // [4]
    o('elem'), S | 2, 24, o('cnt'), 1, 0, o('t'), 4, 64, // [5]
    0, (13 << 24) | 0, 1, // [6] int (void)
    0, (13 << 24) | 3, 1, o('a'), 1, o('p'), 10, o('ctx'), 9, // [7] int (int, void *, struct __sk_buff *)
    o('__sk_buff'), 7 << 24, 0, // [8] fwd struct __sk_buff
    0, 2 << 24, 8, // [9] ptr
    0, 2 << 24, 0, // [10] void *
    0, 2 << 24, 3, // [11] struct val *
    o('main'), (12 << 24) | 0, 6, // [12]
    o('cb'), (12 << 24) | 0, 6, // [13]
    o('glob'), (12 << 24) | 1, 6, // [14]
    o('gfn'), (12 << 24) | 1, 7, // [15]
    o('gval'), (12 << 24) | 1, 17, // [16]
    0, (13 << 24) | 1, 1, o('v'), 11, // [17] int (struct val *)
  ];
  const strBytes = new TextEncoder().encode(strings.join('\0') + '\0');
  const typeLen = types.length * 4;
  const out = new Uint8Array(24 + typeLen + strBytes.length);
  const v = new DataView(out.buffer);
  v.setUint16(0, 0xeb9f, true);
  v.setUint8(2, 1);
  v.setUint32(4, 24, true);
  v.setUint32(12, typeLen, true);
  v.setUint32(16, typeLen, true);
  v.setUint32(20, strBytes.length, true);
  types.forEach((w, i) => v.setUint32(24 + i * 4, w >>> 0, true));
  out.set(strBytes, 24 + typeLen);
  return out;
}

/** FUNC type ids of the case BTF by name, with their linkage. */
export const FUNCS: Readonly<Record<string, { typeId: number; linkage: number }>> = {
  main: { typeId: 12, linkage: 0 }, cb: { typeId: 13, linkage: 0 }, glob: { typeId: 14, linkage: 1 },
  gfn: { typeId: 15, linkage: 1 }, gval: { typeId: 16, linkage: 1 },
};

/** The maps a case may name as `MAP_<name>` in `rX = MAP_<name> ll`. */
const MAP_SPECS: Readonly<Record<string, { type: number; keySize: number; valueSize: number; maxEntries: number; btfValue?: number; info: Partial<MapInfo> }>> = {
  L: { type: MapType.ARRAY, keySize: 4, valueSize: 8, maxEntries: 2, btfValue: 3, info: { spinLockOff: 4 } },
  HL: { type: MapType.HASH, keySize: 4, valueSize: 8, maxEntries: 4, btfValue: 3, info: { spinLockOff: 4 } },
  T: { type: MapType.ARRAY, keySize: 4, valueSize: 24, maxEntries: 2, btfValue: 5, info: { timerOff: 8 } },
  T2: { type: MapType.ARRAY, keySize: 4, valueSize: 24, maxEntries: 2, btfValue: 5, info: { timerOff: 8 } },
  HT: { type: MapType.HASH, keySize: 4, valueSize: 24, maxEntries: 4, btfValue: 5, info: { timerOff: 8 } },
  A: { type: MapType.ARRAY, keySize: 4, valueSize: 8, maxEntries: 4, info: {} },
  A8: { type: MapType.ARRAY, keySize: 4, valueSize: 8, maxEntries: 0x10000, info: {} },
  PA: { type: MapType.PERCPU_ARRAY, keySize: 4, valueSize: 8, maxEntries: 4, info: {} },
  H: { type: MapType.HASH, keySize: 4, valueSize: 8, maxEntries: 4, info: {} },
  SM: { type: MapType.SOCKMAP, keySize: 4, valueSize: 4, maxEntries: 4, info: {} },
  SH: { type: MapType.SOCKHASH, keySize: 4, valueSize: 4, maxEntries: 4, info: {} },
  PROG: { type: MapType.PROG_ARRAY, keySize: 4, valueSize: 4, maxEntries: 4, info: {} },
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
    btf = loadBtf(caseBtf());
    const infos = new Map<number, MapInfo>();
    for (const [name, spec] of Object.entries(MAP_SPECS)) {
      const map = createMap({
        type: spec.type, keySize: spec.keySize, valueSize: spec.valueSize, maxEntries: spec.maxEntries,
        ...(spec.btfValue !== undefined ? { btfFd: btf.fd, btfKeyTypeId: 1, btfValueTypeId: spec.btfValue, name: `case_${name.toLowerCase()}` } : {}),
      });
      maps.set(name, map);
      infos.set(map.fd, { type: spec.type, keySize: spec.keySize, valueSize: spec.valueSize, maxEntries: spec.maxEntries, flags: 0, id: map.fd, ...spec.info });
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
        return { insn: r.insnOff, linkage: FUNCS[name]!.linkage, scalarReturn: true };
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
