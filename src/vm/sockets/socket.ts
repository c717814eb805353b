/**
 * {@link VmSocket}: a simulated TCP or UDP socket of a {@link SocketWorld} — family, local and
 * remote address and port, TCP state, a socket cookie, the connected peer and a receive queue —
 * with the kernel's sockmap state (`struct sk_psock`) when it is in a SOCKMAP or SOCKHASH.
 */
import { EbpfError } from '../../errors.js';
import type { IpAddress } from './address.js';
import type { SocketWorld } from './world.js';

/** TCP states (include/net/tcp_states.h); UDP sockets use ESTABLISHED (connected) and CLOSE. */
export const TcpState = {
  ESTABLISHED: 1, SYN_SENT: 2, SYN_RECV: 3, FIN_WAIT1: 4, FIN_WAIT2: 5, TIME_WAIT: 6, CLOSE: 7,
  CLOSE_WAIT: 8, LAST_ACK: 9, LISTEN: 10, CLOSING: 11, NEW_SYN_RECV: 12,
} as const;

/** `SOCK_STREAM`, `SOCK_DGRAM`. */
export const SocketType = { STREAM: 1, DGRAM: 2 } as const;
/** `IPPROTO_TCP`, `IPPROTO_UDP`. */
export const IpProtocol = { TCP: 6, UDP: 17 } as const;

/** A socket call failed with the errno the kernel's system call would return. */
export class SocketError extends EbpfError {
  readonly errno: number;
  constructor(message: string, errno: number) {
    super(`${message}: errno ${errno}`);
    this.errno = errno;
  }
}

/** What a socket sees of an endpoint: address and port (host byte order). */
export interface Endpoint {
  readonly address: IpAddress;
  readonly port: number;
}

/**
 * What sock_ops and sk_msg contexts read of a socket: a full socket, or a request socket
 * (`struct request_sock`, a connection not yet accepted) which is not one.
 */
export interface SockView {
  readonly family: number;
  readonly protocol: number;
  readonly local: Endpoint;
  readonly remote: Endpoint;
  readonly state: number;
  /** False for a request socket (`sk_fullsock()`). */
  readonly fullsock: boolean;
  readonly cookie: bigint;
  /** The full socket (undefined for a request socket). */
  readonly socket: VmSocket | undefined;
}

/** A map slot that holds a socket (`struct sk_psock_link`): removing the socket from the map. */
export interface SockLink {
  readonly map: unknown;
  unlink(): void;
}

/** MAX_MSG_FRAGS: scatterlist elements a message can have. */
export const MAX_MSG_FRAGS = 17;

/**
 * A message being sent through an sk_msg program (`struct sk_msg`): its bytes, and the lengths
 * of its scatterlist elements (the program's `data`..`data_end` covers the first). A send's
 * bytes are one element (appended to a corked message's last); push/pop/pull_data split and
 * join elements as the kernel's helpers do.
 */
export class SkMsg {
  /** The bytes not yet sent (the scatterlist's data, in order). */
  data: Uint8Array = new Uint8Array(0);
  /** The lengths of the scatterlist elements, in order (their sum is `size`). */
  elems: number[] = [];
  applyBytes = 0;
  corkBytes = 0;
  /** `BPF_F_INGRESS` or 0, set by msg_redirect_*. */
  flags = 0;
  /** The redirect target chosen by msg_redirect_* (`msg->sk_redir`). */
  skRedir: VmSocket | undefined;
  /** The sending socket. */
  sk: VmSocket | undefined;

  get size(): number {
    return this.data.length;
  }

  /** Length of the first element (`data_end - data`). */
  get firstLength(): number {
    return this.elems[0] ?? 0;
  }

  append(bytes: Uint8Array): void {
    const out = new Uint8Array(this.data.length + bytes.length);
    out.set(this.data);
    out.set(bytes, this.data.length);
    this.data = out;
    // The copy lands in the same page fragment, after the last element's bytes.
    if (this.elems.length === 0) this.elems.push(bytes.length);
    else this.elems[this.elems.length - 1]! += bytes.length;
  }

  /** Takes the first `n` bytes out. */
  take(n: number): Uint8Array {
    const head = this.data.slice(0, n);
    this.data = this.data.slice(n);
    let left = n;
    while (left > 0 && this.elems.length > 0) {
      const first = this.elems[0]!;
      if (first <= left) {
        this.elems.shift();
        left -= first;
      } else {
        this.elems[0] = first - left;
        left = 0;
      }
    }
    return head;
  }

  /** The element holding byte `start` (`start < offset + length`) and its offset; the end when none. */
  locate(start: number): { index: number; offset: number } {
    let offset = 0;
    for (let i = 0; i < this.elems.length; i++) {
      if (start < offset + this.elems[i]!) return { index: i, offset };
      offset += this.elems[i]!;
    }
    return { index: this.elems.length, offset };
  }

  /** Replaces bytes [start, start + removed) with `inserted`. */
  splice(start: number, removed: number, inserted: Uint8Array): void {
    const out = new Uint8Array(this.data.length - removed + inserted.length);
    out.set(this.data.subarray(0, start));
    out.set(inserted, start);
    out.set(this.data.subarray(start + removed), start + inserted.length);
    this.data = out;
  }
}

/** Runs the sk_msg program of a socket on a message: r0 (SK_PASS 1, SK_DROP 0). */
export type MsgParser = (msg: SkMsg) => number;

/**
 * Runs the sk_skb verdict program of a socket on a received segment: r0, the segment's bytes
 * as the program left them, and the redirect it chose (bpf_sk_redirect_map/hash).
 */
export type SkbVerdictRun = (sk: VmSocket, bytes: Uint8Array) => { r0: number; bytes: Uint8Array; redirect: { sk: VmSocket; ingress: boolean } | undefined };

/** The verdict state of a psock (`enum __sk_action`). */
export const MsgEval = { NONE: 0, PASS: 1, DROP: 2, REDIRECT: 3 } as const;

/** `struct sk_psock`: a socket's sockmap state, made when it joins its first map. */
export class Psock {
  /** The map slots that hold the socket; the psock goes when the last one does. */
  readonly links = new Set<SockLink>();
  /** The sk_msg program, taken from the map when the socket joined it. */
  msgParser: MsgParser | undefined;
  /** The program's label for messages. */
  msgParserName = '';
  /** The sk_skb verdict program (stream_verdict or skb_verdict), taken from the map. */
  skbVerdict: SkbVerdictRun | undefined;
  eval: number = MsgEval.NONE;
  applyBytes = 0;
  corkBytes = 0;
  cork: SkMsg | undefined;
  skRedir: VmSocket | undefined;
  redirIngress = false;
}

/** Options of a socket. */
export interface SocketOptions {
  /** A cgroup path the socket's creator runs in (for sock_ops programs); default `/`. */
  cgroup?: string;
}

/**
 * A simulated socket. Made by a {@link SocketWorld} (`world.tcpPair()`, `world.tcpListen()`,
 * `world.udpSocket()`); `fd` is what SOCKMAP/SOCKHASH updates take as the value.
 */
export class VmSocket implements Disposable {
  readonly world: SocketWorld;
  /** The VM's file descriptor of the socket (unique in its world). */
  readonly fd: number;
  readonly protocol: number;
  readonly family: number;
  /** `SO_COOKIE`: unique in the world, never 0. */
  readonly cookie: bigint;
  readonly cgroup: string;
  local: Endpoint;
  remote: Endpoint;
  state: number = TcpState.CLOSE;
  /** The other end of a connected TCP socket (or the UDP socket a connected UDP socket sends to). */
  peer: VmSocket | undefined;
  /** Set once the socket is in a sockmap. */
  psock: Psock | undefined;
  /** `bpf_sock_ops_cb_flags` (bpf_sock_ops_cb_flags_set). */
  sockOpsCbFlags = 0;
  /** Bytes sent and received over the connection (`bytes_acked`, `bytes_received`). */
  bytesSent = 0;
  bytesReceived = 0;
  segsIn = 0;
  segsOut = 0;
  /** The closed socket whose FIN this one has not ACKed yet (see SocketWorld). */
  finAckOwed: VmSocket | undefined;
  /** Accepted connections not yet taken by accept() (listening sockets). */
  readonly backlog: VmSocket[] = [];
  #queue: Uint8Array[] = [];
  #closed = false;

  /** @internal Made by {@link SocketWorld}. */
  constructor(world: SocketWorld, init: { fd: number; protocol: number; family: number; cookie: bigint; cgroup: string; local: Endpoint; remote: Endpoint }) {
    this.world = world;
    this.fd = init.fd;
    this.protocol = init.protocol;
    this.family = init.family;
    this.cookie = init.cookie;
    this.cgroup = init.cgroup;
    this.local = init.local;
    this.remote = init.remote;
  }

  /** `tcp` or `udp`. */
  get kind(): 'tcp' | 'udp' {
    return this.protocol === IpProtocol.TCP ? 'tcp' : 'udp';
  }

  /** True once closed. */
  get closed(): boolean {
    return this.#closed;
  }

  /** `sock_map_redirect_allowed`: a TCP socket that is not listening, a connected UDP socket. */
  get redirectAllowed(): boolean {
    return this.protocol === IpProtocol.TCP ? this.state !== TcpState.LISTEN : this.state === TcpState.ESTABLISHED;
  }

  /** What a context reads of this socket. */
  get view(): SockView {
    return { family: this.family, protocol: this.protocol, local: this.local, remote: this.remote, state: this.state, fullsock: true, cookie: this.cookie, socket: this };
  }

  /**
   * Sends `bytes` on a connected socket (a TCP stream or a connected UDP socket): through the
   * socket's sk_msg program when it has one (tcp_bpf_sendmsg). Returns the bytes accepted;
   * throws SocketError with the kernel's errno (EACCES when the program dropped everything,
   * EPIPE/ENOTCONN when not connected).
   */
  send(bytes: Uint8Array): number {
    return this.world.send(this, bytes);
  }

  /** Sends one datagram from a UDP socket to `address:port` (sendto). */
  sendTo(bytes: Uint8Array, address: string, port: number): number {
    return this.world.sendTo(this, bytes, address, port);
  }

  /**
   * Takes what has arrived: for TCP up to `max` bytes of the stream, for UDP the next datagram
   * (cut to `max`). An empty array when nothing is queued.
   */
  receive(max = Number.MAX_SAFE_INTEGER): Uint8Array {
    if (this.protocol === IpProtocol.UDP) {
      const d = this.#queue.shift();
      return d === undefined ? new Uint8Array(0) : d.subarray(0, max);
    }
    const parts: Uint8Array[] = [];
    let n = 0;
    while (n < max && this.#queue.length > 0) {
      const head = this.#queue[0]!;
      const take = Math.min(head.length, max - n);
      parts.push(head.subarray(0, take));
      n += take;
      if (take === head.length) this.#queue.shift();
      else this.#queue[0] = head.subarray(take);
    }
    const out = new Uint8Array(n);
    let at = 0;
    for (const p of parts) { out.set(p, at); at += p.length; }
    return out;
  }

  /** Bytes (TCP) or datagrams (UDP) waiting in the receive queue. */
  get queued(): number {
    return this.protocol === IpProtocol.UDP ? this.#queue.length : this.#queue.reduce((n, b) => n + b.length, 0);
  }

  /** Takes the next accepted connection of a listening socket. Throws EAGAIN when none is waiting. */
  accept(): VmSocket {
    if (this.state !== TcpState.LISTEN) throw new SocketError(`accept on socket ${this.fd}`, 22);
    const child = this.backlog.shift();
    if (child === undefined) throw new SocketError(`accept on socket ${this.fd}`, 11);
    return child;
  }

  /** Closes the socket: it leaves every sockmap, a TCP connection is shut down. Idempotent. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.world.closeSocket(this);
  }

  [Symbol.dispose](): void {
    this.close();
  }

  /** @internal Appends arrived bytes. */
  enqueue(bytes: Uint8Array): void {
    if (this.#closed || bytes.length === 0 && this.protocol === IpProtocol.TCP) return;
    this.#queue.push(bytes.slice());
    this.bytesReceived += bytes.length;
    this.segsIn++;
  }
}
