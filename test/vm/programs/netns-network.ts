/**
 * A test network namespace with devices, routes and neighbours for the bpf_fib_lookup and
 * bpf_clone_redirect differential tests, and the same network read back with `ip -j` (and
 * sysctl) as the VM's `VmNetwork`: what the kernel's lookups see is what the VM's see.
 */
import { spawnSync } from 'node:child_process';
import type { VmNetDevice, VmNeighbour, VmNeighbourState, VmNetwork, VmRoute, VmRouteType } from '../../../src/vm/programs/net-table.js';
import { createNetns, ip, type TestNetns } from '../../support/netns.js';

/** Runs `sysctl` inside `netns`. */
function sysctl(netns: string, ...args: string[]): string {
  const r = spawnSync('ip', ['netns', 'exec', netns, 'sysctl', ...args], { encoding: 'utf8', timeout: 10_000 });
  if (r.status !== 0) throw new Error(`sysctl ${args.join(' ')} in ${netns}: ${r.error?.message ?? r.stderr.trim()}`);
  return r.stdout.trim();
}

/** `ip` commands, one per line, run in `netns` by one `ip -batch`. */
function configure(netns: string, script: string): void {
  const lines = script.split('\n').map((l) => l.trim()).filter((l) => l !== '');
  const r = spawnSync('ip', ['-n', netns, '-batch', '-'], { input: `${lines.join('\n')}\n`, encoding: 'utf8', timeout: 10_000 });
  if (r.status !== 0) throw new Error(`ip -batch in ${netns}: ${r.error?.message ?? r.stderr.trim()}`);
}

/** net.ipv4/ipv6.conf.DEV.forwarding of every device, read by one shell. */
function forwardingSysctls(netns: string): Map<string, string> {
  const out = spawnSync('ip', ['netns', 'exec', netns, 'sh', '-c', 'grep -H . /proc/sys/net/ipv4/conf/*/forwarding /proc/sys/net/ipv6/conf/*/forwarding'], { encoding: 'utf8', timeout: 10_000 });
  if (out.status !== 0) throw new Error(`reading forwarding sysctls in ${netns}: ${out.error?.message ?? out.stderr.trim()}`);
  const values = new Map<string, string>();
  for (const line of out.stdout.trim().split('\n')) {
    const m = /^\/proc\/sys\/net\/(ipv[46])\/conf\/([^/]+)\/forwarding:(\d+)$/.exec(line);
    if (m !== null) values.set(`${m[1]}.${m[2]}`, m[3]!);
  }
  return values;
}

/**
 * A namespace with: veth0 (02:00:00:00:00:aa, 10.201.0.1/24, 2001:db8:1::1/64) paired with veth1
 * (02:00:00:00:00:bb, 10.202.0.1/24, MTU 1400); dummy0 (a veth, 10.203.0.1/24, IPv4 forwarding
 * off); dummy1 (a veth, down); forwarding on elsewhere; gateway, blackhole/unreachable/prohibit/throw,
 * table-100 and locked-MTU routes; permanent, stale and reachable neighbours.
 */
export function fibNetns(): TestNetns {
  const ns = createNetns('-fib');
  try {
    configure(ns.name, `
      link add veth0 type veth peer name veth1
      link set veth0 address 02:00:00:00:00:aa
      link set veth1 address 02:00:00:00:00:bb
      link set veth1 mtu 1400
      link add dummy0 type veth peer name dummy0p
      link set dummy0 address 02:00:00:00:00:dd
      link add dummy1 type veth peer name dummy1p
      addr add 10.201.0.1/24 dev veth0
      addr add 2001:db8:1::1/64 dev veth0 nodad
      addr add 10.202.0.1/24 dev veth1
      addr add 10.203.0.1/24 dev dummy0
      link set veth0 up
      link set veth1 up
      link set dummy0 up
      link set dummy0p up`);
    sysctl(ns.name, '-qw', 'net.ipv4.ip_forward=1', 'net.ipv6.conf.all.forwarding=1', 'net.ipv4.conf.dummy0.forwarding=0');
    configure(ns.name, `
      route add 10.9.0.0/16 via 10.201.0.2 metric 7
      route add 10.9.0.0/16 via 10.202.0.2 metric 3
      route add 10.9.1.0/24 via 10.201.0.3
      route add 10.9.2.0/24 via 10.201.0.4
      route add 10.9.3.0/24 dev veth0
      route add blackhole 10.66.0.0/16
      route add unreachable 10.67.0.0/16
      route add prohibit 10.68.0.0/16
      route add throw 10.72.0.0/16
      route add 10.70.0.0/16 via 10.201.0.2 table 100
      route add 10.71.0.0/16 via 10.201.0.2 mtu lock 1300
      route add 10.73.0.0/16 via 10.201.0.2 src 10.203.0.1
      route add 10.74.0.0/16 via 10.203.0.2
      route add 2001:db8:9::/48 via 2001:db8:1::2
      route add 2001:db8:a::/48 via 2001:db8:1::3
      route add unreachable 2001:db8:dead::/48
      route add blackhole 2001:db8:beef::/48
      route add prohibit 2001:db8:cafe::/48
      route add 2001:db8:b::/48 via 2001:db8:1::2 mtu 1280
      route add 2001:db8:c::/48 dev dummy0
      route add 2001:db8:d::/48 via 2001:db8:1::2 src 2001:db8:1::1
      neigh add 10.201.0.2 lladdr 02:00:00:00:01:02 dev veth0 nud permanent
      neigh add 10.201.0.3 lladdr 02:00:00:00:01:03 dev veth0 nud stale
      neigh add 10.202.0.2 lladdr 02:00:00:00:02:02 dev veth1 nud reachable
      neigh add 10.203.0.2 lladdr 02:00:00:00:03:02 dev dummy0 nud noarp
      neigh add 2001:db8:1::2 lladdr 02:00:00:00:01:22 dev veth0 nud permanent`);
  } catch (err) {
    ns.close();
    throw err;
  }
  return ns;
}

interface IpLink { ifindex: number; ifname: string; flags: string[]; mtu: number; address?: string }
interface IpAddr { ifindex: number; addr_info: Array<{ family: string; local: string; prefixlen: number }> }
interface IpRoute { type?: string; dst: string; gateway?: string; dev?: string; table?: string; metric?: number; prefsrc?: string; metrics?: Array<{ mtu?: number }> }
interface IpNeigh { dst: string; dev: string; lladdr?: string; state: string[] }

const json = <T>(netns: string, ...args: string[]): T => JSON.parse(ip('-n', netns, '-j', ...args) || '[]') as T;

/** The namespace's devices, routes and neighbours as the VM's network. */
export function readNetwork(netns: string): VmNetwork {
  const links = json<IpLink[]>(netns, 'link', 'show');
  const addrs = json<IpAddr[]>(netns, 'addr', 'show');
  const byName = new Map(links.map((l) => [l.ifname, l.ifindex]));
  const sysctls = forwardingSysctls(netns);
  const devices: VmNetDevice[] = links.map((l) => {
    const forwarding = (family: 'ipv4' | 'ipv6'): boolean => sysctls.get(`${family}.${l.ifname}`) === '1';
    return {
      ifindex: l.ifindex, name: l.ifname, mtu: l.mtu, up: l.flags.includes('UP'),
      ...(l.address === undefined ? {} : { mac: l.address }),
      forwarding: forwarding('ipv4'), forwarding6: forwarding('ipv6'),
      addresses: (addrs.find((a) => a.ifindex === l.ifindex)?.addr_info ?? []).map((a) => `${a.local}/${a.prefixlen}`),
    };
  });
  const tables: Record<string, number> = { main: 254, local: 255, default: 253 };
  const routes: VmRoute[] = [];
  for (const family of ['-4', '-6'] as const) {
    const text = ip('-n', netns, family, 'route', 'show', 'table', 'all');
    for (const r of json<IpRoute[]>(netns, family, 'route', 'show', 'table', 'all')) {
      const mtu = r.metrics?.find((m) => m.mtu !== undefined)?.mtu;
      const dst = r.dst === 'default' && family === '-6' ? 'default6' : r.dst;
      const locked = text.split('\n').some((line) => line.startsWith(`${r.dst} `) && line.includes('mtu lock'));
      routes.push({
        dst, type: (r.type ?? 'unicast') as VmRouteType,
        table: r.table === undefined ? 254 : tables[r.table] ?? Number(r.table),
        ...(r.gateway === undefined ? {} : { gateway: r.gateway }),
        ...(r.dev === undefined ? {} : { ifindex: byName.get(r.dev)! }),
        metric: r.metric ?? 0,
        ...(r.prefsrc === undefined ? {} : { prefsrc: r.prefsrc }),
        ...(mtu === undefined ? {} : { mtu, mtuLocked: locked }),
      });
    }
  }
  const neighbours: VmNeighbour[] = json<IpNeigh[]>(netns, 'neigh', 'show', 'nud', 'all').filter((n) => n.lladdr !== undefined).map((n) => ({
    ifindex: byName.get(n.dev)!, address: n.dst, mac: n.lladdr!, state: (n.state[0] ?? 'none').toLowerCase() as VmNeighbourState,
  }));
  return { devices, routes, neighbours };
}
