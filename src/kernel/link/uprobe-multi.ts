/**
 * uprobe_multi (`uprobe.multi/<path>:<pattern>`, 6.6+): one program on many offsets of one
 * file with a single BPF_LINK_CREATE (BPF_TRACE_UPROBE_MULTI). The program must be loaded with
 * `expectedAttachType: AttachType.TRACE_UPROBE_MULTI`.
 */
import { readFileSync } from 'node:fs';
import { cString } from '../attr.js';
import { KernelError } from '../error.js';
import type { Program } from '../program.js';
import { AttachType } from '../types.js';
import { LINK_CREATE, MULTI_RETURN, u64Array } from './attr.js';
import { tryLinkCreate } from './create.js';
import { resolveElfFunction } from './elf-symbols.js';
import { BpfLink } from './link.js';

/** Options of {@link attachUprobeMulti}: `symbols` or `offsets`. */
export interface UprobeMultiOptions {
  /** Functions of the file. */
  symbols?: readonly string[];
  /** File offsets. */
  offsets?: readonly number[];
  retprobe?: boolean;
  /** Only this process. */
  pid?: number;
  /** One bpf_get_attach_cookie() value per target. */
  cookies?: readonly bigint[];
}

/** Attaches a uprobe_multi program to several functions (or offsets) of the file at `path`. */
export function attachUprobeMulti(program: Program, path: string, options: UprobeMultiOptions): BpfLink {
  let offsets = options.offsets ?? [];
  if (options.symbols?.length) {
    const bytes = readFileSync(path);
    offsets = options.symbols.map((s) => resolveElfFunction(path, s, bytes).offset);
  }
  if (offsets.length === 0) throw new TypeError(`uprobe_multi on '${path}': give symbols or offsets`);
  if (options.cookies && options.cookies.length !== offsets.length) throw new RangeError(`uprobe_multi: ${options.cookies.length} cookies for ${offsets.length} targets`);
  const kind = options.retprobe ? 'uretprobe_multi' : 'uprobe_multi';
  const description = `${kind} ${path} (${offsets.length} offset${offsets.length === 1 ? '' : 's'})${options.pid ? ` (pid ${options.pid})` : ''}`;
  const syscalls = program.syscalls;
  const fd = tryLinkCreate(syscalls, {
    programFd: program.fd,
    attachType: AttachType.TRACE_UPROBE_MULTI,
    fill: (attr, memory) => {
      attr.u64(LINK_CREATE.uprobe_multi_path, memory.input(cString(path)))
        .u64(LINK_CREATE.uprobe_multi_offsets, memory.input(u64Array(offsets.map(BigInt))))
        .u32(LINK_CREATE.uprobe_multi_cnt, offsets.length)
        .u32(LINK_CREATE.uprobe_multi_flags, options.retprobe ? MULTI_RETURN : 0)
        .u32(LINK_CREATE.uprobe_multi_pid, options.pid ?? 0);
      if (options.cookies) attr.u64(LINK_CREATE.uprobe_multi_cookies, memory.input(u64Array(options.cookies)));
    },
  });
  if (fd < 0) throw new KernelError(`attach program '${program.name}' as ${description}`, -fd);
  return new BpfLink(fd, kind, description, { syscalls });
}
