/**
 * The network a VM's packet helpers see, supplied by the host (`VmHostOptions.network`): its
 * devices (ifindex, MAC, MTU, addresses, forwarding), its routing tables and its neighbour table —
 * what bpf_fib_lookup and bpf_clone_redirect ask the kernel's network namespace for. Written the
 * way `ip` prints them: addresses and prefixes as text, MACs as `aa:bb:cc:dd:ee:ff`.
 *
 * @example
 * new VmHost({ network: {
 *   devices: [{ ifindex: 2, name: 'eth0', mac: '02:00:00:00:00:01', mtu: 1500, addresses: ['10.0.0.1/24'] }],
 *   routes: [{ dst: '10.0.0.0/24', ifindex: 2, prefsrc: '10.0.0.1' }, { dst: 'default', gateway: '10.0.0.254', ifindex: 2 }],
 *   neighbours: [{ ifindex: 2, address: '10.0.0.254', mac: '02:00:00:00:00:fe' }],
 * } });
 */

/** A network device. */
export interface VmNetDevice {
  readonly ifindex: number;
  readonly name?: string;
  /** Hardware address (default all zero, as loopback). */
  readonly mac?: string;
  /** Default 1500. */
  readonly mtu?: number;
  /** IFF_UP; default true. */
  readonly up?: boolean;
  /** net.ipv4.conf.DEV.forwarding and net.ipv6.conf.DEV.forwarding; default true. */
  readonly forwarding?: boolean;
  readonly forwarding6?: boolean;
  /** Addresses with their prefix length (`10.0.0.1/24`, `2001:db8::1/64`), in the kernel's order. */
  readonly addresses?: readonly string[];
}

/** Route types (`ip route add TYPE PREFIX`). */
export type VmRouteType = 'unicast' | 'local' | 'broadcast' | 'multicast' | 'anycast' | 'blackhole' | 'unreachable' | 'prohibit' | 'throw';

/** A route. */
export interface VmRoute {
  /** `10.0.0.0/24`, `2001:db8::/64`, a host address, or `default` (IPv4; `default6` for IPv6). */
  readonly dst: string;
  /** Default 'unicast'. */
  readonly type?: VmRouteType;
  /** Routing table; default 254 (main). The local table is 255. */
  readonly table?: number;
  readonly gateway?: string;
  /** The nexthop's device (none for blackhole/unreachable/prohibit/throw routes). */
  readonly ifindex?: number;
  /** Priority; lower wins among routes to the same prefix. Default 0. */
  readonly metric?: number;
  readonly prefsrc?: string;
  /** Route MTU; bpf_fib_lookup's MTU check uses it only when `mtuLocked` (ip route … mtu lock N). */
  readonly mtu?: number;
  readonly mtuLocked?: boolean;
}

/** Neighbour states (`ip neigh … nud STATE`). */
export type VmNeighbourState = 'permanent' | 'noarp' | 'reachable' | 'stale' | 'delay' | 'probe' | 'incomplete' | 'failed' | 'none';

/** A neighbour entry. */
export interface VmNeighbour {
  readonly ifindex: number;
  readonly address: string;
  readonly mac: string;
  /** Default 'permanent'. */
  readonly state?: VmNeighbourState;
}

/** The network namespace the VM's helpers see. */
export interface VmNetwork {
  readonly devices: readonly VmNetDevice[];
  readonly routes?: readonly VmRoute[];
  readonly neighbours?: readonly VmNeighbour[];
}

/** The default network: loopback alone (ifindex 1, MTU 65536), as in a fresh namespace. */
export const LOOPBACK_NETWORK: VmNetwork = { devices: [{ ifindex: 1, name: 'lo', mtu: 65536 }] };

/** NUD_VALID: the states whose hardware address bpf_fib_lookup uses. */
export const NUD_VALID: ReadonlySet<VmNeighbourState> = new Set(['permanent', 'noarp', 'reachable', 'stale', 'delay', 'probe']);

/** An IPv4 (4 bytes) or IPv6 (16 bytes) address from text; throws RangeError naming the text. */
export function parseAddress(text: string): Uint8Array {
  if (text.includes(':')) return parseIpv6Text(text);
  const parts = text.split('.');
  if (parts.length !== 4 || parts.some((p) => !/^\d{1,3}$/.test(p) || Number(p) > 255)) throw new RangeError(`'${text}' is not an IPv4 address`);
  return Uint8Array.from(parts, Number);
}

function parseIpv6Text(text: string): Uint8Array {
  const bad = (): never => { throw new RangeError(`'${text}' is not an IPv6 address`); };
  const halves = text.split('::');
  if (halves.length > 2) bad();
  const words = (s: string): number[] => (s === '' ? [] : s.split(':').map((w) => (/^[0-9a-f]{1,4}$/i.test(w) ? parseInt(w, 16) : bad())));
  const head = words(halves[0]!), tail = halves.length === 2 ? words(halves[1]!) : [];
  const fill = 8 - head.length - tail.length;
  if ((halves.length === 1 && fill !== 0) || fill < 0) bad();
  const all = [...head, ...new Array<number>(fill).fill(0), ...tail];
  const out = new Uint8Array(16);
  all.forEach((w, i) => { out[2 * i] = w >> 8; out[2 * i + 1] = w & 0xff; });
  return out;
}

/** A prefix (`10.0.0.0/8`, `default`, `default6`, or a host address) as address bytes and length. */
export function parsePrefix(text: string): { readonly address: Uint8Array; readonly length: number } {
  if (text === 'default') return { address: new Uint8Array(4), length: 0 };
  if (text === 'default6') return { address: new Uint8Array(16), length: 0 };
  const [addr, len] = text.split('/');
  const address = parseAddress(addr!);
  const length = len === undefined ? address.length * 8 : Number(len);
  if (!Number.isInteger(length) || length < 0 || length > address.length * 8) throw new RangeError(`'${text}' has a bad prefix length`);
  return { address, length };
}

/** A MAC address from `aa:bb:cc:dd:ee:ff`. */
export function parseMacText(text: string): Uint8Array {
  const parts = text.split(':');
  if (parts.length !== 6 || parts.some((p) => !/^[0-9a-f]{1,2}$/i.test(p))) throw new RangeError(`'${text}' is not a MAC address`);
  return Uint8Array.from(parts, (p) => parseInt(p, 16));
}

/** Whether the first `length` bits of `a` and `b` agree. */
export function prefixMatch(a: Uint8Array, b: Uint8Array, length: number): boolean {
  if (a.length !== b.length) return false;
  const whole = length >> 3;
  for (let i = 0; i < whole; i++) if (a[i] !== b[i]) return false;
  const rest = length & 7;
  if (rest === 0) return true;
  const mask = (0xff << (8 - rest)) & 0xff;
  return (a[whole]! & mask) === (b[whole]! & mask);
}
