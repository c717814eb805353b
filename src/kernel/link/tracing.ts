/**
 * BTF-typed tracing programs — tp_btf, fentry, fexit, fmod_ret (BPF_PROG_TYPE_TRACING) and
 * LSM hooks (BPF_PROG_TYPE_LSM) — whose target was fixed when they were loaded with
 * `attachBtfId` (see `btf-target.ts`). Attaching needs no target: BPF_LINK_CREATE with the
 * program's expected attach type when it is known, else BPF_RAW_TRACEPOINT_OPEN without a name,
 * which every kernel with these program types accepts (libbpf's bpf_program__attach_btf_id).
 */
import { KernelError } from '../error.js';
import type { Program } from '../program.js';
import { attachTypeName } from '../types.js';
import { LINK_CREATE } from './attr.js';
import { isUnsupportedAttach, tryLinkCreate } from './create.js';
import { BpfLink } from './link.js';
import { tryRawTracepointOpen } from './raw-tracepoint.js';

/** Options of {@link attachTracing}. */
export interface TracingOptions {
  /**
   * The `expectedAttachType` the program was loaded with (`AttachType.TRACE_FENTRY`, …). With
   * it the attach is a BPF_LINK_CREATE, which takes a cookie; without, BPF_RAW_TRACEPOINT_OPEN.
   */
  attachType?: number;
  /** Value for bpf_get_attach_cookie() (5.19+ for fentry/fexit, 6.10+ for tp_btf). */
  cookie?: bigint;
  /** The link's kind for messages (`'fentry'`, `'lsm'`, …; default `'tracing'`). */
  kind?: string;
}

/**
 * Attaches a program loaded with `attachBtfId` to its target. The kernel refuses with EPERM or
 * ENOTSUPP where it cannot build the trampoline that fentry/fexit/LSM programs need.
 *
 * @example
 * using prog = loadProgram({ type: ProgramType.TRACING, expectedAttachType: AttachType.TRACE_RAW_TP,
 *   attachBtfId: attachBtfId(AttachType.TRACE_RAW_TP, 'sys_enter'), … });
 * using link = attachTracing(prog, { attachType: AttachType.TRACE_RAW_TP });
 */
export function attachTracing(program: Program, options: TracingOptions = {}): BpfLink {
  const syscalls = program.syscalls;
  const kind = options.kind ?? 'tracing';
  const description = `${kind} program '${program.name}'${options.attachType !== undefined ? ` (${attachTypeName(options.attachType)})` : ''}`;
  const context = `attach ${description}`;
  let fd: number;
  if (options.attachType !== undefined) {
    fd = tryLinkCreate(syscalls, {
      programFd: program.fd,
      attachType: options.attachType,
      fill: (attr) => attr.u64(LINK_CREATE.tracing_cookie, options.cookie ?? 0n),
    });
    if (fd < 0 && options.cookie === undefined && isUnsupportedAttach(-fd)) fd = tryRawTracepointOpen(program, undefined);
  } else {
    fd = tryRawTracepointOpen(program, undefined, options.cookie);
  }
  if (fd < 0) throw new KernelError(context, -fd);
  return new BpfLink(fd, kind, description, { syscalls });
}
