/**
 * `ebpf tc-redirect IFACE`: attach the redirect program to IFACE's tcx egress and keep it
 * until Ctrl-C; `ebpf tc-redirect IFACE add|del|list`: edit and show its routes through the
 * pinned map (src/tools/tc-redirect.ts).
 */
import { parseArgs } from 'node:util';
import { armStop } from '../tools/stop.js';
import { redirectPinDir, RedirectRoutes, TcRedirect, type RedirectTarget } from '../tools/tc-redirect.js';
import { type Command, type Io, UsageError } from './command.js';
import { toJson } from './json-value.js';
import { parseDuration, parsePositive, PINNED_TOOL_OPTIONS } from './tool-options.js';

const USAGE = `Usage: ebpf tc-redirect IFACE [--netns NAME] [--pin-dir DIR] [--route DPORT:TARGET-IFACE]... [-d SECONDS] [--keep] [-j]
       ebpf tc-redirect IFACE add DPORT TARGET-IFACE [--netns NAME] [--pin-dir DIR]
       ebpf tc-redirect IFACE del DPORT [--netns NAME] [--pin-dir DIR]
       ebpf tc-redirect IFACE list [--netns NAME] [--pin-dir DIR] [-j]

Sends IPv4 TCP and UDP packets leaving IFACE for destination port DPORT out of TARGET-IFACE
instead (a tcx egress program calling bpf_redirect), by a hash of port → interface pinned
with per-route counters. The first form attaches and stays until Ctrl-C (SIGINT), SIGTERM or
the duration, then detaches and removes the pin; meanwhile add/del/list, run from another
shell, change and show the routes through the pin. TARGET-IFACE is in IFACE's namespace.

  --netns NAME     the interfaces are in this network namespace (ip netns)
  --pin-dir DIR    where the map is pinned (default /sys/fs/bpf/ebpf-tc-redirect/IFACE,
                   or IFACE@NAME with --netns); must be on bpffs
  --route DPORT:TARGET-IFACE   a route to add once attached (repeatable)
  -d, --duration SECONDS   detach after this long
  --keep           leave the pinned map (routes and counters) when detaching
  -j, --json       list (and the summary at detach) as JSON

Needs root. "attached" on stderr says the program is in place.`;

export const tcRedirectCommand: Command = {
  name: 'tc-redirect',
  summary: 'redirect packets by destination port to another interface (tcx egress)',
  usage: USAGE,
  async run(args, io) {
    const { values, positionals } = parseArgs({
      args,
      options: {
        ...PINNED_TOOL_OPTIONS,
        route: { type: 'string', multiple: true },
      },
      allowPositionals: true,
    });
    const [iface, action, ...operands] = positionals;
    if (iface === undefined) throw new UsageError('expected an interface');
    const target: RedirectTarget = {
      iface, ...(values.netns === undefined ? {} : { netns: values.netns }), ...(values['pin-dir'] === undefined ? {} : { pinDir: values['pin-dir'] }),
    };
    const json = values.json ?? false;
    const open = (): RedirectRoutes => RedirectRoutes.open(redirectPinDir(target), values.netns);
    switch (action) {
      case undefined:
        return attach(target, values, io);
      case 'add': {
        const [port, to, ...extra] = operands;
        if (port === undefined || to === undefined) throw new UsageError('add needs DPORT and TARGET-IFACE');
        if (extra.length > 0) throw new UsageError(`unexpected argument '${extra[0]}'`);
        const dport = parsePort(port);
        using routes = open();
        const ifindex = routes.add(dport, to);
        if (json) io.out(`${toJson({ added: { port: Number(port), ifname: to, ifindex } })}\n`);
        return 0;
      }
      case 'del': {
        const [port, ...extra] = operands;
        if (port === undefined) throw new UsageError('del needs DPORT');
        if (extra.length > 0) throw new UsageError(`unexpected argument '${extra[0]}'`);
        const dport = parsePort(port);
        using routes = open();
        if (!routes.delete(dport)) {
          io.err(`ebpf tc-redirect: no route for port ${port}\n`);
          return 1;
        }
        if (json) io.out(`${toJson({ deleted: Number(port) })}\n`);
        return 0;
      }
      case 'list': {
        if (operands.length > 0) throw new UsageError(`unexpected argument '${operands[0]}'`);
        using routes = open();
        printRoutes(routes, json, io);
        return 0;
      }
      default:
        throw new UsageError(`unknown action '${action}' (add, del or list)`);
    }
  },
};

function parsePort(text: string): number {
  const port = parsePositive(text, 'port')!;
  if (port > 65535) throw new UsageError(`port '${text}': from 1 to 65535`);
  return port;
}

async function attach(target: RedirectTarget, values: { duration?: string; route?: string[]; keep?: boolean; json?: boolean }, io: Io): Promise<number> {
  const durationMs = parseDuration(values.duration);
  const routes = (values.route ?? []).map((r) => {
    const m = /^(\d+):(\S+)$/.exec(r);
    if (m === null) throw new UsageError(`route '${r}': DPORT:TARGET-IFACE`);
    return { port: parsePort(m[1]!), to: m[2]! };
  });
  using stop = armStop(durationMs === undefined ? {} : { durationMs });
  const redirect = TcRedirect.attach(target);
  try {
    for (const r of routes) redirect.routes.add(r.port, r.to);
    const where = `${target.iface}${target.netns === undefined ? '' : ` in netns ${target.netns}`}`;
    io.err(`tc-redirect: attached to ${where} (tcx egress); routes pinned in ${redirect.pinDir}; Ctrl-C to detach\n`);
    await stop.stopped;
    printRoutes(redirect.routes, values.json ?? false, io);
  } finally {
    redirect.close({ keep: values.keep ?? false });
  }
  io.err(`tc-redirect: detached (${stop.reason})\n`);
  return 0;
}

function printRoutes(routes: RedirectRoutes, json: boolean, io: Io): void {
  const list = routes.list();
  if (json) {
    io.out(`${toJson({ routes: list })}\n`);
    return;
  }
  io.out(`${'DPORT'.padEnd(6)} ${'TARGET'.padEnd(16)} ${'PACKETS'.padStart(12)} ${'BYTES'.padStart(14)}\n`);
  for (const r of list) {
    io.out(`${String(r.port).padEnd(6)} ${(r.ifname ?? `ifindex ${r.ifindex}`).padEnd(16)} ${String(r.packets).padStart(12)} ${String(r.bytes).padStart(14)}\n`);
  }
}
