/**
 * The send path of a TCP socket with an sk_msg program (net/ipv4/tcp_bpf.c tcp_bpf_sendmsg and
 * tcp_bpf_send_verdict, net/core/skmsg.c sk_psock_msg_verdict), step for step: the psock's
 * verdict applies to `apply_bytes` bytes before the program runs again, `cork_bytes` holds data
 * back until that many bytes have been sent, a redirect moves the bytes to another socket's
 * receive queue (BPF_F_INGRESS) or out through it, a drop frees them and answers EACCES.
 * The kernel's quirks are kept: the message's fields survive a rerun of the program on the rest
 * of a message, and a corked message stays the psock's cork after a pass.
 *
 * The VM sends each send() as one message (the kernel splits messages past its scatterlist and
 * socket-buffer limits).
 */
import { MsgEval, SkMsg, type Psock, type VmSocket } from './socket.js';

/** `BPF_F_INGRESS`. */
export const BPF_F_INGRESS = 1;
const SK_PASS = 1;
const EACCES = 13;
const EPIPE = 32;

/** What the send path needs of the world. */
interface Transmitter {
  transmit(sock: VmSocket, bytes: Uint8Array): void;
}

/** sk_msg_apply_bytes. */
function applyBytesConsumed(psock: Psock, bytes: number): void {
  if (psock.applyBytes) psock.applyBytes = psock.applyBytes < bytes ? 0 : psock.applyBytes - bytes;
}

/** sk_psock_msg_verdict: runs the program, turns r0 and msg->sk_redir into the psock's verdict. */
function msgVerdict(sk: VmSocket, psock: Psock, msg: SkMsg): number {
  const prog = psock.msgParser;
  if (prog === undefined) return MsgEval.PASS;
  msg.sk = sk;
  const r0 = prog(msg) >>> 0;
  let ret = r0 === SK_PASS ? (msg.skRedir !== undefined ? MsgEval.REDIRECT : MsgEval.PASS) : MsgEval.DROP;
  psock.applyBytes = msg.applyBytes;
  if (ret === MsgEval.REDIRECT) {
    psock.skRedir = undefined;
    if (msg.skRedir === undefined) ret = MsgEval.DROP;
    else {
      psock.redirIngress = (msg.flags & BPF_F_INGRESS) !== 0;
      psock.skRedir = msg.skRedir;
    }
  }
  return ret;
}

/** tcp_bpf_sendmsg_redir: 0, or -EPIPE when the target left its maps. */
function sendmsgRedir(target: VmSocket, ingress: boolean, msg: SkMsg, bytes: number, net: Transmitter): number {
  if (target.psock === undefined || target.closed) return -EPIPE;
  const data = msg.take(bytes);
  if (ingress) target.enqueue(data);
  else net.transmit(target, data);
  return 0;
}

/** tcp_bpf_send_verdict; `copied` is the running count sendmsg returns. */
function sendVerdict(sk: VmSocket, psock: Psock, first: SkMsg, copied: { n: number }, net: Transmitter): number {
  let msg: SkMsg | undefined = first;
  for (;;) {
    let delta = 0;
    if (psock.eval === MsgEval.NONE) {
      delta = msg.size;
      psock.eval = msgVerdict(sk, psock, msg);
      delta -= msg.size;
    }
    if (msg.corkBytes && msg.corkBytes > msg.size) {
      psock.corkBytes = msg.corkBytes - msg.size;
      psock.cork = msg;
      return 0;
    }
    let tosend = msg.size;
    if (psock.applyBytes && psock.applyBytes < tosend) tosend = psock.applyBytes;
    let ret = 0;
    switch (psock.eval) {
      case MsgEval.PASS:
        net.transmit(sk, msg.take(tosend));
        applyBytesConsumed(psock, tosend);
        break;
      case MsgEval.REDIRECT: {
        const ingress = psock.redirIngress;
        const target = psock.skRedir!;
        applyBytesConsumed(psock, tosend);
        if (!psock.applyBytes) {
          psock.eval = MsgEval.NONE;
          psock.skRedir = undefined;
        }
        let cork = false;
        if (psock.cork !== undefined) {
          cork = true;
          psock.cork = undefined;
        }
        ret = sendmsgRedir(target, ingress, msg, tosend, net);
        if (ret < 0) {
          const free = msg.size;
          msg.take(free);
          if (!cork) copied.n -= free;
        }
        if (cork) {
          msg = undefined;
          ret = 0;
        }
        break;
      }
      default:
        msg.take(msg.size);
        applyBytesConsumed(psock, tosend);
        copied.n -= tosend + delta;
        return -EACCES;
    }
    if (ret !== 0) return ret;
    if (!psock.applyBytes) {
      psock.eval = MsgEval.NONE;
      psock.skRedir = undefined;
    }
    if (msg === undefined || msg.size === 0) return 0;
  }
}

/** tcp_bpf_sendmsg: bytes accepted, or -errno when none were. */
export function tcpBpfSendmsg(sk: VmSocket, psock: Psock, bytes: Uint8Array, net: Transmitter): number {
  const copied = { n: 0 };
  const msg = psock.cork ?? new SkMsg();
  msg.append(bytes);
  copied.n += bytes.length;
  if (psock.corkBytes) {
    psock.corkBytes = bytes.length > psock.corkBytes ? 0 : psock.corkBytes - bytes.length;
    if (psock.corkBytes) return copied.n;
    psock.eval = MsgEval.NONE;
    psock.corkBytes = 0;
  }
  const err = sendVerdict(sk, psock, msg, copied, net);
  return copied.n > 0 ? copied.n : err < 0 ? err : copied.n;
}
