/**
 * sk_msg programs (BPF_PROG_TYPE_SK_MSG): attached to a SOCKMAP/SOCKHASH, they run on each
 * message a TCP socket of the map sends (src/vm/sockets/tcp-bpf.ts decides what their verdict
 * does). Their context `struct sk_msg_md` is laid out read-only in VM memory, `data` ..
 * `data_end` over the first scatterlist element of a writable copy of the message (a send is
 * one element; push/pop/pull split and join them as the kernel does), `sk` at a
 * `struct bpf_sock`; the helpers bpf_msg_redirect_map/hash, apply_bytes, cork_bytes, pull_data,
 * push_data and pop_data act on the message whose context r1 holds. Bytes push_data inserts
 * are zeros (the kernel's come from a fresh page it does not clear).
 */
import { VmError } from '../errors.js';
import type { Helper, HelperContext } from '../helpers.js';
import { readArg } from '../helpers/args.js';
import type { Interpreter } from '../interpreter.js';
import type { MapRegistry } from '../maps/registry.js';
import { SockHash, SockMap, type SockMapProgram } from '../maps/sock-map.js';
import type { Memory, Region } from '../memory.js';
import { IpProtocol, MAX_MSG_FRAGS, type SkMsg, type VmSocket } from '../sockets/socket.js';
import { BPF_F_INGRESS } from '../sockets/tcp-bpf.js';
import { bpfSockBytes, writeAddressFields } from './bpf-sock.js';
import { allocContext, releaseContext } from './layout.js';
import { SkAction } from './verdicts.js';

/** sizeof(struct sk_msg_md) and its field offsets. */
export const SK_MSG_MD_SIZE = 80;
const OFF = { data: 0, dataEnd: 8, family: 16, remoteIp4: 20, remotePort: 60, size: 68, sk: 72 } as const;

/** Helper ids of the sk_msg helpers (`enum bpf_func_id`). */
export const SkMsgHelperId = {
  msg_redirect_map: 60, msg_apply_bytes: 61, msg_cork_bytes: 62, msg_pull_data: 63, msg_redirect_hash: 71, msg_push_data: 90, msg_pop_data: 91,
} as const;

/** A message whose program is running: its context and data in VM memory. */
interface ActiveMsg {
  readonly msg: SkMsg;
  /** The message's bytes in VM memory (replaced when push/pop change them). */
  data: Region;
  readonly ctx: number;
  readonly name: string;
}

const active = new WeakMap<Memory, Map<number, ActiveMsg>>();

function activeIn(memory: Memory): Map<number, ActiveMsg> {
  let m = active.get(memory);
  if (m === undefined) active.set(memory, (m = new Map()));
  return m;
}

/** The `struct sk_msg_md` bytes for `msg` sent by `sk`, with data at `dataAddress`. */
function skMsgMdBytes(sk: VmSocket, msg: SkMsg, dataAddress: number, skAddress: number): Uint8Array {
  const out = new Uint8Array(SK_MSG_MD_SIZE);
  const dv = new DataView(out.buffer);
  dv.setBigUint64(OFF.data, BigInt(dataAddress), true);
  dv.setBigUint64(OFF.dataEnd, BigInt(dataAddress + msg.firstLength), true);
  dv.setUint32(OFF.family, sk.family, true);
  writeAddressFields(out, sk.view, OFF);
  dv.setUint32(OFF.size, msg.size, true);
  dv.setBigUint64(OFF.sk, BigInt(skAddress), true);
  return out;
}

/**
 * What a SOCKMAP keeps for an attached sk_msg program: a run function that lays out the
 * context for a message, runs `interpreter` on it and copies back what the program wrote.
 */
export function skMsgProgram(name: string, interpreter: Interpreter): SockMapProgram {
  return {
    name,
    run: (msg: SkMsg): number => {
      const memory = interpreter.memory;
      const sk = msg.sk!;
      const data = memory.alloc(msg.size, { kind: 'packet', name: `sk_msg data of '${name}'`, init: msg.data });
      const sock = memory.alloc(80, { kind: 'context', name: 'bpf_sock', writable: false, init: bpfSockBytes(sk.view) });
      const ctx = allocContext(memory, `sk_msg_md of '${name}'`, SK_MSG_MD_SIZE, skMsgMdBytes(sk, msg, data.start, sock.start));
      const runs = activeIn(memory);
      const run: ActiveMsg = { msg, data, ctx: ctx.address, name };
      runs.set(ctx.address, run);
      try {
        const { r0 } = interpreter.run(ctx.address);
        // The program may have written the message's bytes (direct packet access).
        msg.data = memory.bytes.slice(run.data.start, run.data.start + msg.size);
        return Number(r0 & 0xffffffffn);
      } finally {
        runs.delete(ctx.address);
        releaseContext(memory, ctx);
        memory.release(sock);
        memory.release(run.data);
      }
    },
  };
}

/** The message's bytes as the program has left them so far. */
function sync(registry: MapRegistry, a: ActiveMsg): void {
  a.msg.data = registry.memory.bytes.slice(a.data.start, a.data.start + a.msg.size);
}

/**
 * After push/pop: the message's bytes in a new region, the context's data pointers over its
 * first element and its size (sk_msg_compute_data_pointers).
 */
function refresh(registry: MapRegistry, a: ActiveMsg): void {
  const memory = registry.memory;
  const old = a.data;
  a.data = memory.alloc(a.msg.size, { kind: 'packet', name: `sk_msg data of '${a.name}'`, init: a.msg.data });
  memory.release(old);
  const view = memory.view;
  view.setBigUint64(a.ctx + OFF.data, BigInt(a.data.start), true);
  view.setBigUint64(a.ctx + OFF.dataEnd, BigInt(a.data.start + a.msg.firstLength), true);
  view.setUint32(a.ctx + OFF.size, a.msg.size, true);
}

/** The message whose context is in r1. */
function msgArg(registry: MapRegistry, ctx: HelperContext, helper: string): ActiveMsg {
  const a = activeIn(registry.memory).get(ctx.argNumber(1));
  if (a === undefined) throw new VmError(`${helper}: r1 is not the context of a running sk_msg program`, ctx.index);
  return a;
}

function sockMapArg(registry: MapRegistry, ctx: HelperContext, helper: string): SockMap | SockHash {
  const map = registry.byAddress(ctx.argNumber(2));
  if (!(map instanceof SockMap) && !(map instanceof SockHash)) throw new VmError(`${helper}: r2 is not a SOCKMAP or SOCKHASH`, ctx.index);
  return map;
}

/** bpf_msg_redirect_map/hash once the socket is found. */
function redirect(msg: SkMsg, sk: VmSocket | undefined, flags: bigint): number {
  if (flags & ~BigInt(BPF_F_INGRESS)) return SkAction.DROP;
  if (sk === undefined || !sk.redirectAllowed) return SkAction.DROP;
  if (!(flags & BigInt(BPF_F_INGRESS)) && sk.protocol !== IpProtocol.TCP) return SkAction.DROP;
  msg.flags = Number(flags);
  msg.skRedir = sk;
  return SkAction.PASS;
}

/** The sk_msg helpers of the programs of `registry`'s memory, by helper id. */
export function skMsgHelpers(registry: MapRegistry): Map<number, Helper> {
  return new Map<number, Helper>([
    [SkMsgHelperId.msg_redirect_map, (ctx) => {
      const { msg } = msgArg(registry, ctx, 'bpf_msg_redirect_map');
      const map = sockMapArg(registry, ctx, 'bpf_msg_redirect_map');
      if (!(map instanceof SockMap)) throw new VmError('bpf_msg_redirect_map: r2 is not a SOCKMAP', ctx.index);
      return redirect(msg, map.socket(ctx.argU32(3)), ctx.arg(4));
    }],
    [SkMsgHelperId.msg_redirect_hash, (ctx) => {
      const { msg } = msgArg(registry, ctx, 'bpf_msg_redirect_hash');
      const map = sockMapArg(registry, ctx, 'bpf_msg_redirect_hash');
      if (!(map instanceof SockHash)) throw new VmError('bpf_msg_redirect_hash: r2 is not a SOCKHASH', ctx.index);
      return redirect(msg, map.socket(readArg(ctx, 3, map.keySize)), ctx.arg(4));
    }],
    [SkMsgHelperId.msg_apply_bytes, (ctx) => {
      msgArg(registry, ctx, 'bpf_msg_apply_bytes').msg.applyBytes = ctx.argU32(2);
      return 0;
    }],
    [SkMsgHelperId.msg_cork_bytes, (ctx) => {
      msgArg(registry, ctx, 'bpf_msg_cork_bytes').msg.corkBytes = ctx.argU32(2);
      return 0;
    }],
    [SkMsgHelperId.msg_pull_data, (ctx) => {
      // bpf_msg_pull_data: the element holding `start`; if [start, end) is not inside it, the
      // elements up to the one holding `end` become one. data = start, data_end = end.
      const a = msgArg(registry, ctx, 'bpf_msg_pull_data');
      const start = ctx.argU32(2);
      const end = ctx.argU32(3);
      if (ctx.arg(4) !== 0n || end <= start) return -22;
      const msg = a.msg;
      const { index, offset } = msg.locate(start);
      if (index >= msg.elems.length) return -22;
      const total = end - offset;
      if (total > msg.elems[index]!) {
        let copy = 0;
        let last = index;
        while (last < msg.elems.length && copy < total) copy += msg.elems[last++]!;
        if (copy < total) return -22;
        msg.elems.splice(index, last - index, copy);
      }
      const view = registry.memory.view;
      view.setBigUint64(a.ctx + OFF.data, BigInt(a.data.start + start), true);
      view.setBigUint64(a.ctx + OFF.dataEnd, BigInt(a.data.start + end), true);
      return 0;
    }],
    [SkMsgHelperId.msg_push_data, (ctx) => {
      // bpf_msg_push_data: `len` new bytes at `start` (the kernel's are a fresh, uninitialised
      // page; the VM's are zeros), as an element of their own — splitting the element `start`
      // falls in — or, without a free element, merged into that element.
      const a = msgArg(registry, ctx, 'bpf_msg_push_data');
      const start = ctx.argU32(2);
      const len = ctx.argU32(3);
      if (ctx.arg(4) !== 0n) return -22;
      if (len === 0) return 0;
      const msg = a.msg;
      const { index, offset } = msg.locate(start);
      if (start > msg.size) return -22;
      const space = MAX_MSG_FRAGS - msg.elems.length;
      if (index >= msg.elems.length) {
        // At the end: a new last element (or, without a free one, the last grows).
        if (space > 0 || msg.elems.length === 0) msg.elems.push(len);
        else msg.elems[msg.elems.length - 1]! += len;
      } else if (!space || (space === 1 && start !== offset)) msg.elems.splice(index, 1, msg.elems[index]! + len);
      else if (start === offset) msg.elems.splice(index, 0, len);
      else msg.elems.splice(index, 1, start - offset, len, msg.elems[index]! - (start - offset));
      sync(registry, a);
      msg.splice(start, 0, new Uint8Array(len));
      refresh(registry, a);
      return 0;
    }],
    [SkMsgHelperId.msg_pop_data, (ctx) => {
      // bpf_msg_pop_data: removes [start, start + len); an element keeping bytes on both sides
      // splits in two (or, without a free element, keeps both parts as one).
      const a = msgArg(registry, ctx, 'bpf_msg_pop_data');
      const start = ctx.argU32(2);
      const len = ctx.argU32(3);
      const msg = a.msg;
      if (ctx.arg(4) !== 0n || len === 0) return -22;
      const { index, offset } = msg.locate(start);
      if (index >= msg.elems.length || start + len > msg.size) return -22;
      const space = MAX_MSG_FRAGS - msg.elems.length;
      let pop = len;
      let i = index;
      if (start !== offset) {
        const elem = msg.elems[i]!;
        const front = start - offset;
        const back = elem - pop - front;
        if (back > 0) {
          if (space) msg.elems.splice(i, 1, front, back);
          else msg.elems[i] = front + back;
          pop = 0;
        } else {
          pop -= elem - front;
          msg.elems[i] = front;
          i++;
        }
      }
      while (pop > 0 && i < msg.elems.length) {
        const elem = msg.elems[i]!;
        if (pop < elem) {
          msg.elems[i] = elem - pop;
          pop = 0;
        } else {
          pop -= elem;
          msg.elems.splice(i, 1);
        }
      }
      sync(registry, a);
      msg.splice(start, len, new Uint8Array(0));
      refresh(registry, a);
      return 0;
    }],
  ]);
}
