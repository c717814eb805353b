/**
 * The XDP firewall (bpf/tools/xdp_firewall.c): drops IPv4 packets from the prefixes in a
 * pinned LPM trie, counting drops per rule. {@link XdpFirewall} loads and attaches it (the
 * long-running invocation); {@link FirewallRules} edits and lists the rules of a running
 * firewall through its pins, from any process.
 */
import { join } from 'node:path';
import { EbpfError } from '../errors.js';
import type { XdpMode } from '../kernel/link/xdp.js';
import { UpdateFlag } from '../kernel/map-types.js';
import { isKeyExist } from '../kernel/map-errors.js';
import type { ObjectMap } from '../kernel/object/object-map.js';
import { openObjectMap } from '../kernel/object/open.js';
import { formatIpv4Prefix, parseIpv4Prefix } from './cidr.js';
import { defaultPinDir } from './pins.js';
import { attachPinned, PinnedAttachment, type PinnedParts } from './pinned-attachment.js';

const TOOL = 'xdp-firewall';
/** The pinned maps (LIBBPF_PIN_BY_NAME in xdp_firewall.c). */
const PINNED = ['rules', 'totals'] as const;

/** Where a firewall is: an interface, its namespace, and the pin directory. */
export interface FirewallTarget {
  iface: string;
  netns?: string;
  /** Default /sys/fs/bpf/ebpf-xdp-firewall/IFACE (IFACE@NETNS with a namespace). */
  pinDir?: string;
}

/** The pin directory of a target. */
export function firewallPinDir(target: FirewallTarget): string {
  return target.pinDir ?? defaultPinDir(TOOL, target.iface, target.netns);
}

/** A rule and what it dropped. */
export interface FirewallRule {
  /** `A.B.C.D/N`. */
  readonly prefix: string;
  readonly packets: bigint;
  readonly bytes: bigint;
}

/** Packets and bytes the program let through and dropped, summed over CPUs. */
export interface FirewallTotals {
  readonly passed: { readonly packets: bigint; readonly bytes: bigint };
  readonly dropped: { readonly packets: bigint; readonly bytes: bigint };
}

interface RuleKey { prefixlen: number; addr: number[] }
interface Counters { packets: bigint; bytes: bigint }

/** The rules of a firewall, through its maps. */
export class FirewallRules implements Disposable {
  readonly #rules: ObjectMap;
  readonly #totals: ObjectMap | undefined;
  readonly #owned: boolean;

  constructor(rules: ObjectMap, totals: ObjectMap | undefined, owned: boolean) {
    this.#rules = rules;
    this.#totals = totals;
    this.#owned = owned;
  }

  /** The rules of the firewall pinned in `pinDir` (another process's), decoded through the maps' BTF. */
  static open(pinDir: string): FirewallRules {
    let rules: ObjectMap;
    try {
      rules = openObjectMap(join(pinDir, 'rules'));
    } catch (err) {
      throw EbpfError.wrap(`open the firewall's rules in ${pinDir} (is a firewall attached there?)`, err);
    }
    let totals: ObjectMap | undefined;
    try {
      totals = openObjectMap(join(pinDir, 'totals'));
    } catch {
      totals = undefined; // counters are optional for editing
    }
    return new FirewallRules(rules, totals, true);
  }

  /** Adds a rule for `prefix` (`10.0.0.2`, `10.0.0.0/8`); an existing rule keeps its counters. Returns the normalized prefix. */
  add(prefix: string): string {
    const p = parseIpv4Prefix(prefix);
    const key: RuleKey = { prefixlen: p.prefixlen, addr: [...p.address] };
    try {
      this.#rules.set(key, { packets: 0n, bytes: 0n }, UpdateFlag.NOEXIST);
    } catch (err) {
      if (!isKeyExist(err)) throw EbpfError.wrap(`add rule ${formatIpv4Prefix(p)}`, err);
    }
    return formatIpv4Prefix(p);
  }

  /** Deletes the rule for `prefix`; false when there was none. */
  delete(prefix: string): boolean {
    const p = parseIpv4Prefix(prefix);
    return this.#rules.delete({ prefixlen: p.prefixlen, addr: [...p.address] });
  }

  /** Every rule with its counters, by prefix. */
  list(): FirewallRule[] {
    const out: FirewallRule[] = [];
    for (const key of this.#rules.keys()) {
      const k = key as RuleKey;
      const v = this.#rules.get(key) as Counters | undefined;
      if (v === undefined) continue; // deleted meanwhile
      out.push({ prefix: formatIpv4Prefix({ address: k.addr, prefixlen: k.prefixlen }), packets: v.packets, bytes: v.bytes });
    }
    return out.sort((a, b) => a.prefix.localeCompare(b.prefix, 'en', { numeric: true }));
  }

  /** What the program passed and dropped in all (undefined when the counters are not pinned). */
  totals(): FirewallTotals | undefined {
    if (this.#totals === undefined) return undefined;
    const sum = (slot: number): { packets: bigint; bytes: bigint } => {
      const perCpu = (this.#totals!.get(slot) ?? []) as Counters[];
      return perCpu.reduce((a, c) => ({ packets: a.packets + c.packets, bytes: a.bytes + c.bytes }), { packets: 0n, bytes: 0n });
    };
    return { passed: sum(0), dropped: sum(1) };
  }

  close(): void {
    if (!this.#owned) return;
    this.#rules.close();
    this.#totals?.close();
  }

  [Symbol.dispose](): void {
    this.close();
  }
}

/** Options of {@link XdpFirewall.attach}. */
export interface XdpFirewallOptions extends FirewallTarget {
  mode?: XdpMode;
  /** Rules to add before attaching. */
  rules?: readonly string[];
}

/** An attached firewall. `close()` detaches it and removes its pins (unless `keep`). */
export class XdpFirewall extends PinnedAttachment {
  readonly rules: FirewallRules;

  private constructor(parts: PinnedParts) {
    super(parts);
    this.rules = new FirewallRules(parts.object.maps.rules!, parts.object.maps.totals, false);
  }

  /**
   * Loads the program with its maps pinned in the pin directory (reusing maps pinned there
   * before: rules kept with `--keep` survive), adds `rules`, and attaches it to the interface.
   */
  static attach(options: XdpFirewallOptions): XdpFirewall {
    const owner = options.pinDir === undefined ? TOOL : undefined;
    const parts = attachPinned('xdp_firewall', firewallPinDir(options), owner, PINNED, (object) => {
      const rules = new FirewallRules(object.maps.rules!, object.maps.totals, false);
      for (const rule of options.rules ?? []) rules.add(rule);
      return object.programs.xdp_firewall!.attach({
        ifname: options.iface, ...(options.netns === undefined ? {} : { netns: options.netns }), ...(options.mode === undefined ? {} : { xdpMode: options.mode }),
      });
    });
    return new XdpFirewall(parts);
  }
}
