/**
 * Local TCP acceleration with a SOCKHASH (bpf/tools/sockmap_accel.c): a sock_ops program on a
 * cgroup adds the established sockets whose both ends are local, an sk_msg program on the map
 * moves what they send straight into the peer socket. {@link SockmapAccel} attaches both.
 */
import { EbpfError } from '../errors.js';
import type { Link } from '../kernel/link/link.js';
import type { KernelObject } from '../kernel/object/kernel-object.js';
import { loadToolObject } from './objects.js';

/** The program's counters. */
export interface AccelStats {
  /** Sockets added to the map. */
  readonly sockets: bigint;
  /** Messages moved to a peer socket, and their bytes. */
  readonly redirected: bigint;
  readonly redirectedBytes: bigint;
  /** Messages left to TCP (no peer in the map). */
  readonly passed: bigint;
}

/** The attached programs. Dispose to detach (sockets already in the map stay accelerated until closed). */
export class SockmapAccel implements Disposable {
  readonly object: KernelObject;
  readonly links: readonly Link[];
  readonly cgroup: string;

  private constructor(object: KernelObject, links: Link[], cgroup: string) {
    this.object = object;
    this.links = links;
    this.cgroup = cgroup;
  }

  /**
   * Loads the programs, attaches sk_msg to the SOCKHASH, then sock_ops to `cgroup` (a cgroup v2
   * directory): sockets of processes in it (and below) established from then on are accelerated.
   */
  static attach(cgroup: string): SockmapAccel {
    const object = loadToolObject('sockmap_accel');
    const links: Link[] = [];
    try {
      // The map's program first: a socket takes the map's programs when it is added.
      links.push(object.programs.accel_redirect!.attach({ map: object.maps.sock_hash! }));
      links.push(object.programs.accel_sockops!.attach({ cgroup }));
      return new SockmapAccel(object, links, cgroup);
    } catch (err) {
      for (const link of links.reverse()) link.close();
      object.dispose();
      throw EbpfError.wrap(`attach to cgroup ${cgroup}`, err);
    }
  }

  /** The counters now. */
  stats(): AccelStats {
    const s = this.object.maps.stats!.get(0) as { sockets: bigint; redirected: bigint; redirected_bytes: bigint; passed: bigint } | undefined;
    return {
      sockets: s?.sockets ?? 0n, redirected: s?.redirected ?? 0n, redirectedBytes: s?.redirected_bytes ?? 0n, passed: s?.passed ?? 0n,
    };
  }

  /** Detaches (sock_ops first, so no socket is added to a map whose program is gone) and releases everything. */
  close(): void {
    try {
      for (const link of [...this.links].reverse()) link.close();
    } finally {
      this.object.dispose();
    }
  }

  [Symbol.dispose](): void {
    this.close();
  }
}
