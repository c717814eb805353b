/**
 * `ebpf xdp-firewall IFACE`: attach the XDP firewall and keep it attached until Ctrl-C;
 * `ebpf xdp-firewall IFACE add|del|list`: edit and show the rules of the running one through
 * its pinned maps (src/tools/xdp-firewall.ts).
 */
import { parseArgs } from 'node:util';
import type { XdpMode } from '../kernel/link/xdp.js';
import { parseIpv4Prefix } from '../tools/cidr.js';
import { armStop } from '../tools/stop.js';
import { firewallPinDir, FirewallRules, XdpFirewall, type FirewallTarget } from '../tools/xdp-firewall.js';
import { type Command, type Io, UsageError } from './command.js';
import { toJson } from './json-value.js';
import { parseDuration, PINNED_TOOL_OPTIONS } from './tool-options.js';

const USAGE = `Usage: ebpf xdp-firewall IFACE [--netns NAME] [--pin-dir DIR] [--mode MODE] [--rule PREFIX]... [-d SECONDS] [--keep] [-j]
       ebpf xdp-firewall IFACE add PREFIX [--netns NAME] [--pin-dir DIR]
       ebpf xdp-firewall IFACE del PREFIX [--netns NAME] [--pin-dir DIR]
       ebpf xdp-firewall IFACE list [--netns NAME] [--pin-dir DIR] [-j]

Drops IPv4 packets arriving on IFACE from the source prefixes in its rules, an LPM trie
pinned with per-rule drop counters. The first form attaches the XDP program and stays until
Ctrl-C (SIGINT), SIGTERM or the duration, then detaches and removes the pins; meanwhile
add/del/list, run from another shell, change and show the rules through the pins.

  PREFIX           an address (10.0.0.2, a /32) or a prefix (10.0.0.0/8)
  --netns NAME     the interface is in this network namespace (ip netns)
  --pin-dir DIR    where the maps are pinned (default /sys/fs/bpf/ebpf-xdp-firewall/IFACE,
                   or IFACE@NAME with --netns); must be on bpffs
  --mode MODE      auto (default), generic or driver
  --rule PREFIX    a rule to add before attaching (repeatable)
  -d, --duration SECONDS   detach after this long
  --keep           leave the pinned maps (rules and counters) when detaching
  -j, --json       list (and the summary at detach) as JSON

Needs root. "attached" on stderr says the program is in place.`;

const MODES: readonly XdpMode[] = ['auto', 'generic', 'driver'];

export const xdpFirewallCommand: Command = {
  name: 'xdp-firewall',
  summary: 'drop IPv4 packets by source prefix with XDP; rules in a pinned LPM trie',
  usage: USAGE,
  async run(args, io) {
    const { values, positionals } = parseArgs({
      args,
      options: {
        ...PINNED_TOOL_OPTIONS,
        mode: { type: 'string' },
        rule: { type: 'string', multiple: true },
      },
      allowPositionals: true,
    });
    const [iface, action, operand, ...extra] = positionals;
    if (iface === undefined) throw new UsageError('expected an interface');
    const target: FirewallTarget = {
      iface, ...(values.netns === undefined ? {} : { netns: values.netns }), ...(values['pin-dir'] === undefined ? {} : { pinDir: values['pin-dir'] }),
    };
    if (extra.length > 0) throw new UsageError(`unexpected argument '${extra[0]}'`);
    const json = values.json ?? false;
    switch (action) {
      case undefined:
        return attach(target, values, io);
      case 'add':
      case 'del': {
        if (operand === undefined) throw new UsageError(`${action} needs a PREFIX`);
        parsePrefix(() => parseIpv4Prefix(operand));
        using rules = FirewallRules.open(firewallPinDir(target));
        const prefix = parsePrefix(() => (action === 'add' ? rules.add(operand) : operand));
        if (action === 'del' && !parsePrefix(() => rules.delete(operand))) {
          io.err(`ebpf xdp-firewall: no rule for ${operand}\n`);
          return 1;
        }
        if (json) io.out(`${toJson({ [action === 'add' ? 'added' : 'deleted']: prefix })}\n`);
        return 0;
      }
      case 'list': {
        if (operand !== undefined) throw new UsageError(`unexpected argument '${operand}'`);
        using rules = FirewallRules.open(firewallPinDir(target));
        printRules(rules, json, io);
        return 0;
      }
      default:
        throw new UsageError(`unknown action '${action}' (add, del or list)`);
    }
  },
};

/** A TypeError of a bad prefix is a usage error. */
function parsePrefix<T>(fn: () => T): T {
  try {
    return fn();
  } catch (err) {
    if (err instanceof TypeError) throw new UsageError(err.message);
    throw err;
  }
}

async function attach(target: FirewallTarget, values: { duration?: string; mode?: string; rule?: string[]; keep?: boolean; json?: boolean }, io: Io): Promise<number> {
  const durationMs = parseDuration(values.duration);
  const mode = values.mode as XdpMode | undefined;
  if (mode !== undefined && !MODES.includes(mode)) throw new UsageError(`mode '${mode}': ${MODES.join(', ')}`);
  for (const rule of values.rule ?? []) parsePrefix(() => parseIpv4Prefix(rule));
  using stop = armStop(durationMs === undefined ? {} : { durationMs });
  const firewall = XdpFirewall.attach({ ...target, ...(mode === undefined ? {} : { mode }), rules: values.rule ?? [] });
  try {
    const where = `${target.iface}${target.netns === undefined ? '' : ` in netns ${target.netns}`}`;
    io.err(`xdp-firewall: attached to ${where}; rules pinned in ${firewall.pinDir}; Ctrl-C to detach\n`);
    await stop.stopped;
    printRules(firewall.rules, values.json ?? false, io);
  } finally {
    firewall.close({ keep: values.keep ?? false });
  }
  io.err(`xdp-firewall: detached (${stop.reason})\n`);
  return 0;
}

function printRules(rules: FirewallRules, json: boolean, io: Io): void {
  const list = rules.list();
  const totals = rules.totals();
  if (json) {
    io.out(`${toJson({ rules: list, ...(totals === undefined ? {} : { totals }) })}\n`);
    return;
  }
  io.out(`${'PREFIX'.padEnd(20)} ${'PACKETS'.padStart(12)} ${'BYTES'.padStart(14)}\n`);
  for (const r of list) io.out(`${r.prefix.padEnd(20)} ${String(r.packets).padStart(12)} ${String(r.bytes).padStart(14)}\n`);
  if (totals !== undefined) {
    io.out(`passed ${totals.passed.packets} packets (${totals.passed.bytes} bytes), dropped ${totals.dropped.packets} packets (${totals.dropped.bytes} bytes)\n`);
  }
}
