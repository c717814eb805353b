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
import { loadObjectSpec } from '../object/index.js';
import { verify, type MapInfo } from '../verifier/index.js';

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
const BPF_PROG_LOAD = 5;

interface RecordedLoad {
  readonly progType: number;
  readonly attachType: number;
  readonly flags: number;
  readonly name: string;
  readonly insns: Uint8Array;
  readonly accepted: boolean;
}

/** kernel: btf_parse_fields — the special struct names whose presence in a map value we do not model. */
const SPECIAL_NAMES = /bpf_spin_lock|bpf_timer|bpf_wq|bpf_list_head|bpf_rb_root|bpf_refcount|bpf_res_spin_lock|kptr/;

/** A syscall layer that passes everything to `inner` and records program loads and map creations. */
function recordingSyscalls(inner: Syscalls, loads: RecordedLoad[], maps: Map<number, MapInfo>, special: boolean): Syscalls {
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
          // A map whose BTF value may hold special fields: refused by our verifier rather than guessed.
          ...(special && view.getUint32(56, true) !== 0 ? { hasSpecialFields: true } : {}),
          ...(innerInfo === undefined ? {} : { inner: innerInfo }),
        });
      } else if (cmd === BPF_PROG_LOAD) {
        const count = view.getUint32(PROG_LOAD.insn_cnt, true);
        const bytes = memory.get(view.getBigUint64(PROG_LOAD.insns, true));
        const nameBytes = attr.subarray(PROG_LOAD.prog_name, PROG_LOAD.prog_name + 16);
        const name = new TextDecoder().decode(nameBytes.subarray(0, Math.max(0, nameBytes.indexOf(0)) || 16));
        if (bytes !== undefined && bytes.length === count * 8) {
          loads.push({
            progType: view.getUint32(PROG_LOAD.prog_type, true), attachType: view.getUint32(PROG_LOAD.expected_attach_type, true),
            flags: view.getUint32(PROG_LOAD.prog_flags, true), name, insns: bytes, accepted: result >= 0,
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
export function compareObjectWithKernel(path: string): ObjectProgramVerdict[] {
  const bytes = readFileSync(path);
  const spec = loadObjectSpec(bytes);
  const names = new Set(spec.programs.map((p) => p.name.slice(0, 15).replace(/[^A-Za-z0-9_.]/g, '_')));
  const special = spec.btf !== undefined && [...spec.btf.own].some((t) => 'name' in t && typeof t.name === 'string' && SPECIAL_NAMES.test(t.name));
  const loads: RecordedLoad[] = [];
  const maps = new Map<number, MapInfo>();
  const syscalls = recordingSyscalls(nativeSyscalls(), loads, maps, special);
  const objectName = path.split('/').pop()!.split('.')[0]!;
  const out: ObjectProgramVerdict[] = [];
  let obj: ReturnType<typeof loadObject> | undefined;
  // Maps pinned by name go to a scratch bpffs directory, never the real /sys/fs/bpf.
  const pinPath = mkdtempSync('/sys/fs/bpf/ebpf-verify-');
  try {
    obj = loadObject(spec, { partial: true, syscalls, objectName, pinPath });
    for (const load of loads) {
      if (!names.has(load.name)) continue;
      const result = verify(decodeSlots(load.insns), {
        progType: load.progType, expectedAttachType: load.attachType, flags: load.flags, maps: (fd) => maps.get(fd),
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
