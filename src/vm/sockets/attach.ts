/**
 * Attaching socket programs in the VM, the counterpart of the kernel's sockmap and cgroup
 * attachments: an sk_msg program to a SOCKMAP/SOCKHASH (`{ map }`: sockets that join the map
 * from then on run it when they send), a sock_ops program to the object's socket world
 * (`{ cgroup }`: sockets of that cgroup path and below, default all), an sk_skb verdict program
 * to a SOCKMAP/SOCKHASH (`{ map }`: sockets that join it run it on what they receive).
 */
import { EbpfError, NotSupportedError } from '../../errors.js';
import { ProgramType, programTypeName } from '../../object/uapi-types.js';
import type { Interpreter } from '../interpreter.js';
import type { VmMap } from '../maps/map.js';
import type { MapRegistry } from '../maps/registry.js';
import { SockMapBase } from '../maps/sock-map.js';
import { VmLink } from '../object/hooks.js';
import { skMsgProgram } from '../programs/sk-msg.js';
import { skSkbVerdict } from '../programs/sk-skb.js';
import { sockOpsRunner } from '../programs/sock-ops.js';
import { socketWorld, type SocketWorld } from './world.js';

/** Options of attaching an sk_msg or sock_ops program. */
export interface VmSocketAttachOptions {
  /** sk_msg: the SOCKMAP or SOCKHASH (an object's map handle or a VM map). */
  map?: VmMap | { readonly map: VmMap };
  /** sock_ops: the cgroup path whose sockets (and those below) run the program; default `/`, every socket. */
  cgroup?: string;
  /** sock_ops: the socket world (default the object's, `obj.sockets`). */
  sockets?: SocketWorld;
}

/** What attaches: a loaded program. */
export interface SocketProgram {
  readonly name: string;
  readonly type: number;
  readonly spec: { readonly expectedAttachType: number };
  readonly interpreter: Interpreter;
}

/** `BPF_SK_SKB_*` attach types (enum bpf_attach_type). */
const SK_SKB_STREAM_PARSER = 4;
const SK_SKB_STREAM_VERDICT = 5;
const SK_SKB_VERDICT = 38;

function sockMapOf(context: string, registry: MapRegistry, options: VmSocketAttachOptions, what: string): SockMapBase {
  const given = options.map;
  const map = given === undefined ? undefined : 'address' in given ? given : given.map;
  if (!(map instanceof SockMapBase)) throw new EbpfError(`${context}: an ${what} program attaches to a SOCKMAP or SOCKHASH (options.map)`);
  if (map.registry !== registry) throw new EbpfError(`${context}: map '${map.name}' belongs to another VM object`);
  return map;
}

/** Attaches an sk_msg or sock_ops program of an object whose maps live in `registry`. */
export function attachSocketProgram(program: SocketProgram, registry: MapRegistry, options: VmSocketAttachOptions): VmLink {
  const context = `attach program '${program.name}'`;
  if (program.type === ProgramType.SK_MSG) {
    const map = sockMapOf(context, registry, options, 'sk_msg');
    const detach = map.attachMsgParser(skMsgProgram(program.name, program.interpreter));
    return new VmLink('sk_msg', `sk_msg on map '${map.name}'`, detach);
  }
  if (program.type === ProgramType.SK_SKB) {
    const map = sockMapOf(context, registry, options, 'sk_skb');
    const attachType = program.spec.expectedAttachType;
    if (attachType === SK_SKB_STREAM_PARSER) throw new NotSupportedError(`${context}: sk_skb stream parsers (strparser) are not simulated by the VM`);
    if (attachType !== SK_SKB_STREAM_VERDICT && attachType !== SK_SKB_VERDICT) {
      throw new EbpfError(`${context}: an sk_skb program needs a stream_verdict or verdict section (sk_skb/stream_verdict, sk_skb/verdict)`);
    }
    const kind = attachType === SK_SKB_VERDICT ? 'skb_verdict' : 'stream_verdict';
    const detach = map.attachSkbVerdict({ name: program.name, kind, run: skSkbVerdict(program.name, program.interpreter) });
    return new VmLink('sk_skb', `sk_skb ${kind} on map '${map.name}'`, detach);
  }
  if (program.type === ProgramType.SOCK_OPS) {
    const world = options.sockets ?? socketWorld(registry);
    const cgroup = options.cgroup ?? '/';
    const link = world.attachSockOps(sockOpsRunner(program.name, program.interpreter), { cgroup });
    return new VmLink('sock_ops', `sock_ops on cgroup ${cgroup}`, () => link.close());
  }
  throw new EbpfError(`${context}: ${programTypeName(program.type)} is not a socket program type`);
}
