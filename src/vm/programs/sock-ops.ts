/**
 * sock_ops programs (BPF_PROG_TYPE_SOCK_OPS): attached to a cgroup of a SocketWorld, the
 * simulated TCP calls them at the kernel's events (src/vm/sockets/world.ts). Their context
 * `struct bpf_sock_ops` is laid out in VM memory, writable only in `reply`/`replylong` and
 * `sk_txhash`; the helpers bpf_sock_map_update, bpf_sock_hash_update,
 * bpf_sock_ops_cb_flags_set and bpf_get_socket_cookie act on the socket whose context r1 holds.
 *
 * TCP internals the simulation does not model (sequence numbers, RTT, congestion state other
 * than the initial window) read 0, as do the skb fields (no packet is simulated).
 */
import { NotSupportedError } from '../../errors.js';
import { VmError } from '../errors.js';
import type { Helper, HelperContext } from '../helpers.js';
import { readArg } from '../helpers/args.js';
import type { Interpreter } from '../interpreter.js';
import type { MapRegistry } from '../maps/registry.js';
import { SockHash, SockMap } from '../maps/sock-map.js';
import type { Memory } from '../memory.js';
import { SockOp, SockOpsCbFlag, SOCK_OPS_ALL_CB_FLAGS } from '../sockets/sock-ops-events.js';
import { IpProtocol, type SockView } from '../sockets/socket.js';
import type { SockOpsRunner } from '../sockets/world.js';
import { BPF_SOCK_SIZE, bpfSockBytes, writeAddressFields } from './bpf-sock.js';
import { allocContext, releaseContext } from './layout.js';

/** sizeof(struct bpf_sock_ops) and the offsets used here. */
export const BPF_SOCK_OPS_SIZE = 224;
const OFF = {
  op: 0, args: 4, reply: 4, family: 20, remoteIp4: 24, remotePort: 64, isFullsock: 72, sndCwnd: 76,
  cbFlags: 84, state: 88, segsIn: 140, segsOut: 148, skTxhash: 164, bytesReceived: 168, bytesAcked: 176, sk: 184,
} as const;

/** The initial congestion window (TCP_INIT_CWND). */
const TCP_INIT_CWND = 10;

/** Helper ids of the sock_ops helpers (`enum bpf_func_id`). */
export const SockOpsHelperId = { get_socket_cookie: 46, sock_map_update: 53, sock_ops_cb_flags_set: 59, sock_hash_update: 70 } as const;

interface ActiveOps {
  readonly view: SockView;
  readonly op: number;
}

const active = new WeakMap<Memory, Map<number, ActiveOps>>();

function activeIn(memory: Memory): Map<number, ActiveOps> {
  let m = active.get(memory);
  if (m === undefined) active.set(memory, (m = new Map()));
  return m;
}

/** The `struct bpf_sock_ops` bytes of one callback. */
function sockOpsBytes(view: SockView, op: number, args: readonly number[], skAddress: number): Uint8Array {
  const out = new Uint8Array(BPF_SOCK_OPS_SIZE);
  const dv = new DataView(out.buffer);
  dv.setUint32(OFF.op, op, true);
  args.slice(0, 4).forEach((a, i) => dv.setUint32(OFF.args + 4 * i, a >>> 0, true));
  dv.setUint32(OFF.family, view.family, true);
  writeAddressFields(out, view, OFF);
  dv.setUint32(OFF.state, view.state, true);
  const sock = view.socket;
  if (view.fullsock && sock !== undefined) {
    dv.setUint32(OFF.isFullsock, 1, true);
    dv.setUint32(OFF.sndCwnd, TCP_INIT_CWND, true);
    dv.setUint32(OFF.cbFlags, sock.sockOpsCbFlags, true);
    dv.setUint32(OFF.segsIn, sock.segsIn, true);
    dv.setUint32(OFF.segsOut, sock.segsOut, true);
    dv.setBigUint64(OFF.bytesReceived, BigInt(sock.bytesReceived), true);
    dv.setBigUint64(OFF.bytesAcked, BigInt(sock.bytesSent), true);
    dv.setBigUint64(OFF.sk, BigInt(skAddress), true);
  }
  return out;
}

/** A runner for the world's sock_ops attachments: lays out the context and runs `interpreter`. */
export function sockOpsRunner(name: string, interpreter: Interpreter): SockOpsRunner {
  return (view, op, args) => {
    const memory = interpreter.memory;
    const sock = memory.alloc(BPF_SOCK_SIZE, { kind: 'context', name: 'bpf_sock', writable: false, init: bpfSockBytes(view) });
    const ctx = allocContext(memory, `bpf_sock_ops of '${name}'`, BPF_SOCK_OPS_SIZE, sockOpsBytes(view, op, args, sock.start), [
      ['reply', OFF.reply, 16], ['sk_txhash', OFF.skTxhash, 4],
    ]);
    const runs = activeIn(memory);
    runs.set(ctx.address, { view, op });
    try {
      const { r0 } = interpreter.run(ctx.address);
      return { ret: Number(r0 & 0xffffffffn), reply: memory.view.getInt32(ctx.address + OFF.reply, true) };
    } finally {
      runs.delete(ctx.address);
      releaseContext(memory, ctx);
      memory.release(sock);
    }
  };
}

function opsArg(registry: MapRegistry, ctx: HelperContext, helper: string): ActiveOps {
  const a = activeIn(registry.memory).get(ctx.argNumber(1));
  if (a === undefined) throw new VmError(`${helper}: r1 is not the context of a running sock_ops program`, ctx.index);
  return a;
}

/**
 * sock_map_op_okay: a socket joins a map from sock_ops only at these callbacks; and
 * sock_map_sk_is_suitable: a full TCP socket.
 */
function canJoin(a: ActiveOps): boolean {
  const okOp = a.op === SockOp.PASSIVE_ESTABLISHED_CB || a.op === SockOp.ACTIVE_ESTABLISHED_CB || a.op === SockOp.TCP_LISTEN_CB;
  return okOp && a.view.socket !== undefined && a.view.protocol === IpProtocol.TCP;
}

/** The sock_ops helpers of the programs of `registry`'s memory, by helper id. */
export function sockOpsHelpers(registry: MapRegistry): Map<number, Helper> {
  return new Map<number, Helper>([
    [SockOpsHelperId.sock_map_update, (ctx) => {
      const a = opsArg(registry, ctx, 'bpf_sock_map_update');
      const map = registry.byAddress(ctx.argNumber(2));
      if (!(map instanceof SockMap)) throw new VmError('bpf_sock_map_update: r2 is not a SOCKMAP', ctx.index);
      const key = readArg(ctx, 3, 4);
      return canJoin(a) ? map.updateCommon(key, a.view.socket!, ctx.arg(4)) : -95;
    }],
    [SockOpsHelperId.sock_hash_update, (ctx) => {
      const a = opsArg(registry, ctx, 'bpf_sock_hash_update');
      const map = registry.byAddress(ctx.argNumber(2));
      if (!(map instanceof SockHash)) throw new VmError('bpf_sock_hash_update: r2 is not a SOCKHASH', ctx.index);
      const key = readArg(ctx, 3, map.keySize);
      return canJoin(a) ? map.updateCommon(key, a.view.socket!, ctx.arg(4)) : -95;
    }],
    [SockOpsHelperId.sock_ops_cb_flags_set, (ctx) => {
      const a = opsArg(registry, ctx, 'bpf_sock_ops_cb_flags_set');
      const argval = ctx.argU32(2) | 0;
      const sock = a.view.socket;
      if (!a.view.fullsock || sock === undefined) return -22;
      const unsimulated = argval & (SockOpsCbFlag.RTT | SockOpsCbFlag.PARSE_ALL_HDR_OPT | SockOpsCbFlag.PARSE_UNKNOWN_HDR_OPT | SockOpsCbFlag.WRITE_HDR_OPT);
      if (unsimulated) {
        throw new NotSupportedError(`bpf_sock_ops_cb_flags_set(0x${(argval >>> 0).toString(16)}): the VM simulates no packets, so no RTT or TCP header option callbacks (flags 0x${unsimulated.toString(16)})`);
      }
      sock.sockOpsCbFlags = argval & SOCK_OPS_ALL_CB_FLAGS;
      // The context's field shows the new flags to the rest of the run.
      registry.memory.view.setUint32(ctx.argNumber(1) + OFF.cbFlags, sock.sockOpsCbFlags, true);
      return argval & ~SOCK_OPS_ALL_CB_FLAGS;
    }],
    [SockOpsHelperId.get_socket_cookie, (ctx) => {
      // The helper has one variant per context type; the VM has the sock_ops one.
      const a = activeIn(registry.memory).get(ctx.argNumber(1));
      if (a === undefined) throw new NotSupportedError('bpf_get_socket_cookie: the VM implements it for sock_ops programs only');
      return a.view.cookie;
    }],
  ]);
}
