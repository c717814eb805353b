/**
 * TC redirect by destination port (bpf/tools/tc_redirect.c): a tcx egress program sends
 * IPv4 TCP/UDP packets whose destination port is in a pinned hash out of another interface
 * of the same namespace. {@link TcRedirect} loads and attaches it (the long-running
 * invocation); {@link RedirectRoutes} edits and lists the routes through the pin.
 */
import { join } from 'node:path';
import { EbpfError } from '../errors.js';
import type { ObjectMap } from '../kernel/object/object-map.js';
import { openObjectMap } from '../kernel/object/open.js';
import { interfaceIndex, interfaceNames } from './netif.js';
import { defaultPinDir } from './pins.js';
import { attachPinned, PinnedAttachment, type PinnedParts } from './pinned-attachment.js';

const TOOL = 'tc-redirect';
const PINNED = ['ports'] as const;

/** Where a redirect program is: an interface, its namespace, and the pin directory. */
export interface RedirectTarget {
  iface: string;
  netns?: string;
  /** Default /sys/fs/bpf/ebpf-tc-redirect/IFACE (IFACE@NETNS with a namespace). */
  pinDir?: string;
}

/** The pin directory of a target. */
export function redirectPinDir(target: RedirectTarget): string {
  return target.pinDir ?? defaultPinDir(TOOL, target.iface, target.netns);
}

/** A route and what it carried. */
export interface RedirectRoute {
  readonly port: number;
  readonly ifindex: number;
  /** The target's name, when it still exists. */
  readonly ifname: string | undefined;
  readonly packets: bigint;
  readonly bytes: bigint;
}

interface Route { ifindex: number; packets: bigint; bytes: bigint }

function checkPort(port: number): number {
  if (!Number.isInteger(port) || port < 1 || port > 65535) throw new TypeError(`port ${port}: from 1 to 65535`);
  return port;
}

/** The routes of a redirect program, through its map. */
export class RedirectRoutes implements Disposable {
  readonly #ports: ObjectMap;
  readonly #netns: string | undefined;
  readonly #owned: boolean;

  constructor(ports: ObjectMap, netns: string | undefined, owned: boolean) {
    this.#ports = ports;
    this.#netns = netns;
    this.#owned = owned;
  }

  /** The routes of the program pinned in `pinDir`; `netns` is where interface names resolve. */
  static open(pinDir: string, netns?: string): RedirectRoutes {
    try {
      return new RedirectRoutes(openObjectMap(join(pinDir, 'ports')), netns, true);
    } catch (err) {
      throw EbpfError.wrap(`open the redirect routes in ${pinDir} (is tc-redirect attached there?)`, err);
    }
  }

  /** Sends packets to `port` out of `target` (an interface name in the namespace, or an ifindex); replaces a route, resetting its counters. */
  add(port: number, target: string | number): number {
    const ifindex = typeof target === 'number' ? target : interfaceIndex(target, this.#netns);
    this.#ports.set(checkPort(port), { ifindex, packets: 0n, bytes: 0n });
    return ifindex;
  }

  /** Deletes the route of `port`; false when there was none. */
  delete(port: number): boolean {
    return this.#ports.delete(checkPort(port));
  }

  /** Every route, by port. */
  list(): RedirectRoute[] {
    const names = interfaceNames(this.#netns);
    const out: RedirectRoute[] = [];
    for (const key of this.#ports.keys()) {
      const v = this.#ports.get(key) as Route | undefined;
      if (v === undefined) continue;
      out.push({ port: key as number, ifindex: v.ifindex, ifname: names.get(v.ifindex), packets: v.packets, bytes: v.bytes });
    }
    return out.sort((a, b) => a.port - b.port);
  }

  close(): void {
    if (this.#owned) this.#ports.close();
  }

  [Symbol.dispose](): void {
    this.close();
  }
}

/** An attached redirect program. `close()` detaches it and removes its pin (unless `keep`). */
export class TcRedirect extends PinnedAttachment {
  readonly routes: RedirectRoutes;

  private constructor(parts: PinnedParts, netns: string | undefined) {
    super(parts);
    this.routes = new RedirectRoutes(parts.object.maps.ports!, netns, false);
  }

  /** Loads the program with its map pinned in the pin directory (reusing one pinned there before) and attaches it to the interface's tcx egress. */
  static attach(target: RedirectTarget): TcRedirect {
    const owner = target.pinDir === undefined ? TOOL : undefined;
    const parts = attachPinned('tc_redirect', redirectPinDir(target), owner, PINNED, (object) =>
      object.programs.tc_redirect!.attach({ ifname: target.iface, ...(target.netns === undefined ? {} : { netns: target.netns }) }));
    return new TcRedirect(parts, target.netns);
  }
}
