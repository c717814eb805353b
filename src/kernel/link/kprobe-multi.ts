/**
 * kprobe_multi (`kprobe.multi/<pattern>`, 5.18+): one program on many kernel functions with a
 * single BPF_LINK_CREATE (BPF_TRACE_KPROBE_MULTI) listing symbols or addresses, built on
 * fprobe. The program must be loaded with `expectedAttachType: AttachType.TRACE_KPROBE_MULTI`.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { cString } from '../attr.js';
import { KernelError } from '../error.js';
import type { Program } from '../program.js';
import { AttachType } from '../types.js';
import { LINK_CREATE, MULTI_RETURN, u64Array } from './attr.js';
import { tryLinkCreate } from './create.js';
import { BpfLink } from './link.js';
import { tracefsRoot } from './tracefs.js';

/** Options of {@link attachKprobeMulti}: `symbols` or `addresses`, not both. */
export interface KprobeMultiOptions {
  symbols?: readonly string[];
  addresses?: readonly bigint[];
  /** Run on return instead of entry. */
  retprobe?: boolean;
  /** One bpf_get_attach_cookie() value per symbol or address. */
  cookies?: readonly bigint[];
}

/** Attaches a kprobe_multi program to every function in `symbols` (or at `addresses`). */
export function attachKprobeMulti(program: Program, options: KprobeMultiOptions): BpfLink {
  const symbols = options.symbols ?? [];
  const addresses = options.addresses ?? [];
  if ((symbols.length === 0) === (addresses.length === 0)) throw new TypeError('kprobe_multi: give symbols or addresses (not both)');
  const count = symbols.length || addresses.length;
  if (options.cookies && options.cookies.length !== count) throw new RangeError(`kprobe_multi: ${options.cookies.length} cookies for ${count} targets`);
  const kind = options.retprobe ? 'kretprobe_multi' : 'kprobe_multi';
  const description = `${kind} on ${count} function${count === 1 ? '' : 's'}${symbols.length ? ` (${symbols.slice(0, 3).join(', ')}${count > 3 ? ', …' : ''})` : ''}`;
  const syscalls = program.syscalls;
  const fd = tryLinkCreate(syscalls, {
    programFd: program.fd,
    attachType: AttachType.TRACE_KPROBE_MULTI,
    fill: (attr, memory) => {
      attr.u32(LINK_CREATE.kprobe_multi_flags, options.retprobe ? MULTI_RETURN : 0).u32(LINK_CREATE.kprobe_multi_cnt, count);
      if (symbols.length) attr.u64(LINK_CREATE.kprobe_multi_syms, memory.input(u64Array(symbols.map((s) => memory.input(cString(s))))));
      if (addresses.length) attr.u64(LINK_CREATE.kprobe_multi_addrs, memory.input(u64Array(addresses)));
      if (options.cookies) attr.u64(LINK_CREATE.kprobe_multi_cookies, memory.input(u64Array(options.cookies)));
    },
  });
  if (fd < 0) throw new KernelError(`attach program '${program.name}' as ${description}`, -fd);
  return new BpfLink(fd, kind, description, { syscalls });
}

/**
 * The traceable kernel functions matching a glob (`*`, `?`), from tracefs
 * `available_filter_functions` — what libbpf expands `kprobe.multi/<pattern>` to.
 */
export function matchKernelFunctions(pattern: string): string[] {
  const regex = new RegExp(`^${pattern.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.')}$`);
  const text = readFileSync(join(tracefsRoot(), 'available_filter_functions'), 'utf8');
  const names = new Set<string>();
  for (const line of text.split('\n')) {
    // "name [module]": module functions are named without their module here.
    const name = line.split(/\s/)[0];
    if (name && regex.test(name) && !name.startsWith('__ftrace_invalid_address__')) names.add(name);
  }
  return [...names];
}
