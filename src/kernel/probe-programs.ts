/**
 * Does this kernel have program type X, and may programs of type X call helper Y? Loads the
 * smallest program (`r0 = 0; exit`, or a call of the helper) and reads the verifier's answer, as
 * `bpftool feature probe` and libbpf's libbpf_probe_bpf_prog_type / libbpf_probe_bpf_helper do
 * (libbpf_probes.c is the reference for each type's attach type and expected failure).
 */
import { NotSupportedError } from '../errors.js';
import { Errno } from './errno.js';
import { KernelError } from './error.js';
import { loadProgram, type LoadProgramOptions } from './program.js';
import type { Syscalls } from './syscalls.js';
import { AttachType, LogLevel, ProgramFlag, ProgramType, programTypeName } from './types.js';

/** `r0 = 0; exit`. */
const RETURN_0 = new Uint8Array([0xb7, 0, 0, 0, 0, 0, 0, 0, 0x95, 0, 0, 0, 0, 0, 0, 0]);

/** `call helper; exit`. */
function callHelper(id: number): Uint8Array {
  const bytes = new Uint8Array(16);
  const view = new DataView(bytes.buffer);
  bytes[0] = 0x85; // BPF_JMP | BPF_CALL
  view.setInt32(4, id, true);
  bytes[8] = 0x95; // BPF_JMP | BPF_EXIT
  return bytes;
}

interface ProgramProbe {
  extra: Partial<LoadProgramOptions>;
  /** The load must fail with this errno (and log text) for the type to exist. */
  expectErrno?: number;
  expectLog?: string;
}

function programProbe(type: number): ProgramProbe | undefined {
  switch (type) {
    case ProgramType.UNSPEC:
      return undefined;
    case ProgramType.CGROUP_SOCK_ADDR:
      return { extra: { expectedAttachType: AttachType.CGROUP_INET4_CONNECT } };
    case ProgramType.CGROUP_SOCKOPT:
      return { extra: { expectedAttachType: AttachType.CGROUP_GETSOCKOPT } };
    case ProgramType.SK_LOOKUP:
      return { extra: { expectedAttachType: AttachType.SK_LOOKUP } };
    case ProgramType.LIRC_MODE2:
      return { extra: { expectedAttachType: AttachType.LIRC_MODE2 } };
    case ProgramType.NETFILTER:
      return { extra: { expectedAttachType: AttachType.NETFILTER } };
    case ProgramType.TRACING:
      return { extra: { expectedAttachType: AttachType.TRACE_FENTRY, attachBtfId: 1 }, expectErrno: Errno.EINVAL, expectLog: 'attach_btf_id 1 is not a function' };
    case ProgramType.LSM:
      return { extra: { expectedAttachType: AttachType.MODIFY_RETURN, attachBtfId: 1 }, expectErrno: Errno.EINVAL, expectLog: 'attach_btf_id 1 is not a function' };
    case ProgramType.EXT:
      return { extra: { attachBtfId: 1 }, expectErrno: Errno.EINVAL, expectLog: 'Cannot replace kernel functions' };
    case ProgramType.SYSCALL:
      return { extra: { flags: ProgramFlag.SLEEPABLE } };
    case ProgramType.STRUCT_OPS:
      return { extra: {}, expectErrno: Errno.ENOTSUPP };
    default:
      return type > 0 && type < 64 ? { extra: {} } : undefined;
  }
}

const privileged = new WeakMap<Syscalls, boolean>();

/**
 * An EPERM from one probe means "not for this kind of object here" (a kernel built without it
 * refuses so) only if the process may load programs at all: this loads a socket filter once and
 * rethrows `err` when that is refused too — the probes cannot tell anything without privilege.
 */
export function checkProbePrivilege(err: KernelError, syscalls: Syscalls): void {
  let ok = privileged.get(syscalls);
  if (ok === undefined) {
    try {
      loadProgram({ type: ProgramType.SOCKET_FILTER, instructions: RETURN_0, license: 'GPL', syscalls }).close();
      ok = true;
    } catch (baseline) {
      if (!(baseline instanceof KernelError) || baseline.errno !== Errno.EPERM) throw baseline;
      ok = false;
    }
    privileged.set(syscalls, ok);
  }
  if (!ok) throw err;
}

/**
 * Whether this kernel can load programs of `type` (`ProgramType.*`). Throws the
 * {@link KernelError} of an EPERM when the process may not load programs at all.
 */
export function probeProgramTypeUncached(type: number, syscalls: Syscalls): boolean {
  const probe = programProbe(type);
  if (!probe) return false;
  try {
    const program = loadProgram({ type, instructions: RETURN_0, license: 'GPL', syscalls, ...probe.extra });
    program.close();
    return probe.expectErrno === undefined;
  } catch (err) {
    if (!(err instanceof KernelError)) throw err;
    if (err.errno === Errno.EPERM) checkProbePrivilege(err, syscalls);
    if (probe.expectErrno === undefined || err.errno !== probe.expectErrno) return false;
    return probe.expectLog === undefined || (err.log ?? '').includes(probe.expectLog);
  }
}

/** The result of one helper probe: whether it is usable, and its name from the verifier's log. */
export interface HelperProbe {
  readonly supported: boolean;
  /** `bpf_map_lookup_elem`, or undefined when the kernel does not know the id at all. */
  readonly name: string | undefined;
  /** The id is past the kernel's last helper (`invalid func unknown#N`). */
  readonly unknown: boolean;
}

/**
 * Whether programs of `programType` may call helper `helperId` here. The verifier says
 * `invalid func unknown#N` for an id it does not know and `program of this type cannot use
 * helper bpf_x#N` (`unknown func` before 5.x) when the type may not call it; any other outcome —
 * loading, or failing on the helper's arguments — means it may (libbpf_probe_bpf_helper's rule).
 * Types whose programs need a BTF target cannot be probed this way: {@link NotSupportedError}.
 */
export function probeHelperUncached(programType: number, helperId: number, syscalls: Syscalls): HelperProbe {
  switch (programType) {
    case ProgramType.TRACING:
    case ProgramType.EXT:
    case ProgramType.LSM:
    case ProgramType.STRUCT_OPS:
      throw new NotSupportedError(`helper probes cannot load a ${programTypeName(programType)} program`);
  }
  const probe = programProbe(programType);
  if (!probe) throw new NotSupportedError(`no probe for ${programTypeName(programType)}`);
  let log: string;
  try {
    const program = loadProgram({
      type: programType, instructions: callHelper(helperId), license: 'GPL', syscalls,
      logLevel: LogLevel.LEVEL1, logSize: 4096, ...probe.extra,
    });
    log = program.log;
    program.close();
  } catch (err) {
    if (!(err instanceof KernelError)) throw err;
    if (err.errno === Errno.EPERM) {
      checkProbePrivilege(err, syscalls);
      return { supported: false, name: undefined, unknown: false };
    }
    log = err.log ?? '';
  }
  const unknown = log.includes('invalid func unknown#');
  const refused = unknown || log.includes('unknown func ') || log.includes('program of this type cannot use helper ');
  const name = /(?:call|func|helper) (bpf_\w+)#\d+/.exec(log)?.[1];
  return { supported: !refused, name, unknown };
}
