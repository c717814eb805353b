/**
 * sk_msg and sk_skb programs (`sk_msg`, `sk_skb/stream_verdict`, `sk_skb/stream_parser`,
 * `sk_skb/verdict`): attached to a SOCKMAP or SOCKHASH map, they run for the sockets in it —
 * sk_msg on each sendmsg, sk_skb on each received skb — and can redirect data between those
 * sockets. A bpf_link (BPF_LINK_CREATE on the map fd, 6.10+) when the kernel has it, else
 * BPF_PROG_ATTACH to the map, detached with BPF_PROG_DETACH on close.
 */
import { KernelError } from '../error.js';
import { fdById } from '../ids.js';
import { mapInfo, programInfo } from '../info.js';
import type { Program } from '../program.js';
import { attachTypeName } from '../types.js';
import { isUnsupportedAttach, tryLinkCreate, tryProgAttach, tryProgDetach } from './create.js';
import { BpfLink, RawLink, type Link } from './link.js';
import { Resources } from './resources.js';

/** Options of {@link attachSockmap}. */
export interface SockmapOptions {
  /** The SOCKMAP or SOCKHASH (a map handle or its fd). */
  map: { readonly fd: number } | number;
  /** `AttachType.SK_MSG_VERDICT`, `SK_SKB_STREAM_VERDICT`, `SK_SKB_STREAM_PARSER` or `SK_SKB_VERDICT`. */
  attachType: number;
  /** `'link'`, `'attach'` or `'auto'` (default): as for cgroups. */
  mode?: 'auto' | 'link' | 'attach';
}

/**
 * Attaches an sk_msg or sk_skb program to a sockmap. One program per map and attach type.
 *
 * @example
 * using link = attachSockmap(program, { map: sockmap, attachType: AttachType.SK_MSG_VERDICT });
 */
export function attachSockmap(program: Program, options: SockmapOptions): Link {
  const syscalls = program.syscalls;
  const mode = options.mode ?? 'auto';
  const mapFd = typeof options.map === 'number' ? options.map : options.map.fd;
  const description = `${attachTypeName(options.attachType)} on sockmap fd ${mapFd}`;
  const context = `attach program '${program.name}' as ${description}`;
  if (mode !== 'attach') {
    const fd = tryLinkCreate(syscalls, { programFd: program.fd, target: mapFd, attachType: options.attachType });
    if (fd >= 0) return new BpfLink(fd, 'sockmap', description, { syscalls });
    if (mode === 'link' || !isUnsupportedAttach(-fd)) throw new KernelError(context, -fd);
  }
  const ret = tryProgAttach(syscalls, { target: mapFd, programFd: program.fd, attachType: options.attachType });
  if (ret < 0) throw new KernelError(`${context} (BPF_PROG_ATTACH)`, -ret);
  // Detaching names the map and the program: keep an fd of each, in case the caller closes theirs.
  let ownMapFd = -1;
  let ownProgramFd = -1;
  try {
    ownMapFd = fdById('map', mapInfo(mapFd, { syscalls }).id, { syscalls });
    ownProgramFd = fdById('program', programInfo(program.fd, { syscalls }).id, { syscalls });
  } catch (err) {
    tryProgDetach(syscalls, { target: mapFd, programFd: program.fd, attachType: options.attachType });
    if (ownMapFd >= 0) syscalls.close(ownMapFd);
    throw err;
  }
  const request = { target: ownMapFd, programFd: ownProgramFd, attachType: options.attachType };
  const resources = new Resources(syscalls)
    .call(`detach ${description}`, () => {
      const detached = tryProgDetach(syscalls, request);
      if (detached < 0 && detached !== -2) throw new KernelError(`detach ${description}`, -detached);
    })
    .fd(ownProgramFd, `program '${program.name}'`)
    .fd(ownMapFd, 'sockmap');
  return new RawLink('sockmap', description, resources, { syscalls });
}
