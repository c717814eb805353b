/**
 * The kernel BTF ids that BTF-typed programs attach to, named as libbpf names them
 * (libbpf.c find_attach_btf_id / btf_attach_kind): a tp_btf program loads with the id of the
 * typedef `btf_trace_<tracepoint>`, an LSM program with the function `bpf_lsm_<hook>`, an
 * iterator with the function `bpf_iter_<target>`, fentry/fexit/fmod_ret with the function
 * itself. The id goes into `loadProgram({ attachBtfId })`.
 */
import { readFileSync } from 'node:fs';
import { parseBtf } from '../../btf/parse.js';
import type { Btf } from '../../btf/btf.js';
import { EbpfError } from '../../errors.js';
import { AttachType } from '../types.js';

const VMLINUX_BTF = '/sys/kernel/btf/vmlinux';

let vmlinux: Btf | undefined;

/** The running kernel's BTF (`/sys/kernel/btf/vmlinux`), parsed once per process. */
export function vmlinuxBtf(): Btf {
  if (vmlinux === undefined) {
    let bytes: Uint8Array;
    try {
      bytes = readFileSync(VMLINUX_BTF);
    } catch (err) {
      throw EbpfError.wrap(`read kernel BTF ${VMLINUX_BTF} (kernel without CONFIG_DEBUG_INFO_BTF?)`, err);
    }
    vmlinux = parseBtf(bytes);
  }
  return vmlinux;
}

/** How an attach type names its target in BTF: a prefix and the BTF kind. */
const TARGET_NAMING: Readonly<Partial<Record<number, { prefix: string; kind: 'func' | 'typedef' }>>> = {
  [AttachType.TRACE_RAW_TP]: { prefix: 'btf_trace_', kind: 'typedef' },
  [AttachType.TRACE_FENTRY]: { prefix: '', kind: 'func' },
  [AttachType.TRACE_FEXIT]: { prefix: '', kind: 'func' },
  [AttachType.MODIFY_RETURN]: { prefix: '', kind: 'func' },
  [AttachType.LSM_MAC]: { prefix: 'bpf_lsm_', kind: 'func' },
  [AttachType.LSM_CGROUP]: { prefix: 'bpf_lsm_', kind: 'func' },
  [AttachType.TRACE_ITER]: { prefix: 'bpf_iter_', kind: 'func' },
};

/** The target has no BTF id in the kernel (no such function, hook, tracepoint or iterator). */
export class BtfTargetNotFoundError extends EbpfError {
  override name = 'BtfTargetNotFoundError';
  readonly code = 'ESRCH';
}

/**
 * The vmlinux BTF id a program of `attachType` loads with to attach to `target`: for
 * `AttachType.TRACE_RAW_TP` and `'sys_enter'`, the id of typedef `btf_trace_sys_enter`.
 *
 * @example
 * const attachBtfId = attachBtfId(AttachType.TRACE_ITER, 'task'); // bpf_iter_task
 * loadProgram({ type: ProgramType.TRACING, expectedAttachType: AttachType.TRACE_ITER, attachBtfId, … });
 */
export function attachBtfId(attachType: number, target: string, btf: Btf = vmlinuxBtf()): number {
  const naming = TARGET_NAMING[attachType];
  if (naming === undefined) throw new TypeError(`attach type ${attachType} does not attach to a BTF target`);
  const name = naming.prefix + target;
  const ids = btf.findByName(name, naming.kind);
  if (ids[0] === undefined) throw new BtfTargetNotFoundError(`kernel BTF has no ${naming.kind} '${name}' (target '${target}')`);
  return ids[0];
}

/**
 * The byte offset of `member` in kernel struct `struct` (from vmlinux BTF), for programs that
 * read kernel structures through BTF pointers: `structMemberOffset('task_struct', 'pid')`.
 */
export function structMemberOffset(struct: string, member: string, btf: Btf = vmlinuxBtf()): number {
  const id = btf.findByName(struct, 'struct')[0];
  if (id === undefined) throw new BtfTargetNotFoundError(`kernel BTF has no struct '${struct}'`);
  const type = btf.type(id);
  if (type.kind !== 'struct') throw new BtfTargetNotFoundError(`kernel BTF '${struct}' is not a struct`);
  const found = type.members.find((m) => m.name === member);
  if (found === undefined) throw new BtfTargetNotFoundError(`struct ${struct} has no member '${member}'`);
  if (found.bitOffset % 8 !== 0) throw new EbpfError(`struct ${struct} member '${member}' is a bit field`);
  return found.bitOffset / 8;
}
