/**
 * {@link SocketWorld}: the simulated network of one VM object — its sockets by fd, bound
 * ports, TCP connections set up in one step over a loopback, and the sock_ops programs
 * attached to it, which the simulated TCP calls at the kernel's events (listen, connect, the
 * request socket of a connection being accepted, established, state changes when enabled).
 * Sends go through a socket's sk_msg program when it is in a sockmap that has one.
 */
import { anyAddress, AddressFamily, formatIp, parseIp, type IpAddress } from './address.js';
import { SockOp, SockOpsCbFlag } from './sock-ops-events.js';
import { IpProtocol, SocketError, TcpState, VmSocket, type Endpoint, type SockView } from './socket.js';
import { tcpBpfSendmsg } from './tcp-bpf.js';

/** errno values the simulated socket calls answer. */
export const SockErrno = {
  EAGAIN: 11, EACCES: 13, EINVAL: 22, EPIPE: 32, EDESTADDRREQ: 89, EADDRINUSE: 98, ENOTCONN: 107, ECONNREFUSED: 111,
} as const;

/**
 * Runs the sock_ops programs of an attachment for one callback: r0 (1 = OK) and the context's
 * `reply` field after the run.
 */
export type SockOpsRunner = (view: SockView, op: number, args: readonly number[]) => { ret: number; reply: number };

interface SockOpsAttachment {
  readonly cgroup: string;
  readonly run: SockOpsRunner;
}

/** Options of the socket factories. */
export interface SocketFactoryOptions {
  /** Address to bind (default `127.0.0.1`; an IPv6 address makes an AF_INET6 socket). */
  address?: string;
  /** Port to bind; 0 (default) picks an ephemeral port. */
  port?: number;
  /** The creating process's cgroup, matched against sock_ops attachments; default `/`. */
  cgroup?: string;
}

/** Options of {@link SocketWorld.tcpPair}. */
export interface TcpPairOptions {
  /** Address of both ends (default `127.0.0.1`). */
  address?: string;
  /** The server's port (default an ephemeral one). */
  port?: number;
  /** cgroup of the connecting process (default `/`). */
  cgroup?: string;
  /** cgroup of the listening process (default `cgroup`). */
  serverCgroup?: string;
}

/** A disposable sock_ops attachment. */
export interface SockOpsLink extends Disposable {
  close(): void;
}

const EPHEMERAL_LOW = 32768;
const EPHEMERAL_HIGH = 60999;

/** Whether `path` is `cgroup` or below it. */
function inCgroup(path: string, cgroup: string): boolean {
  if (cgroup === '/' || path === cgroup) return true;
  return path.startsWith(cgroup.endsWith('/') ? cgroup : `${cgroup}/`);
}

/**
 * The sockets of one VM object (`obj.sockets`), or a standalone world.
 *
 * @example
 * const { client, server } = obj.sockets.tcpPair();
 * obj.maps.sock_map.set(0, server.fd);
 * client.send(new TextEncoder().encode('hi'));
 * server.receive();   // Uint8Array [104, 105]
 */
export class SocketWorld {
  readonly #fds = new Map<number, VmSocket>();
  readonly #bound = new Map<string, VmSocket>();
  readonly #sockOps: SockOpsAttachment[] = [];
  #nextFd = 3;
  #nextCookie = 1n;
  #nextPort = EPHEMERAL_LOW;

  /** The open socket with this fd. */
  byFd(fd: number): VmSocket | undefined {
    return this.#fds.get(fd);
  }

  /** The open sockets, oldest first. */
  get sockets(): VmSocket[] {
    return [...this.#fds.values()];
  }

  /** An unbound, unconnected TCP socket (state CLOSE), of `family` (AF_INET default). */
  tcpSocket(options: { family?: number; cgroup?: string } = {}): VmSocket {
    const family = options.family ?? AddressFamily.INET;
    return this.#make(IpProtocol.TCP, family, options.cgroup ?? '/', { address: anyAddress(family), port: 0 });
  }

  /** A TCP socket bound to `address:port` and listening (TCP_LISTEN_CB). */
  tcpListen(options: SocketFactoryOptions = {}): VmSocket {
    const address = parseIp(options.address ?? '127.0.0.1');
    const sock = this.#make(IpProtocol.TCP, address.family, options.cgroup ?? '/', { address, port: 0 });
    this.#bind(sock, address, options.port ?? 0);
    this.listen(sock);
    return sock;
  }

  /** listen(2) on a bound or unbound TCP socket. */
  listen(sock: VmSocket): void {
    if (sock.kind !== 'tcp' || (sock.state !== TcpState.CLOSE && sock.state !== TcpState.LISTEN)) {
      throw new SocketError(`listen on socket ${sock.fd}`, SockErrno.EINVAL);
    }
    if (sock.state === TcpState.LISTEN) return;
    if (sock.local.port === 0) this.#bind(sock, sock.local.address, 0);
    // inet_csk_listen_start stores the state without tcp_set_state: no STATE_CB.
    sock.state = TcpState.LISTEN;
    this.callSockOps(sock.view, SockOp.TCP_LISTEN_CB);
  }

  /**
   * Connects a new TCP socket to the listener at `address:port` (a three-way handshake over
   * loopback, done at once): returns the client; the server's socket waits in the listener's
   * backlog for accept(). Throws ECONNREFUSED when nothing listens there.
   */
  tcpConnect(address: string, port: number, options: { cgroup?: string } = {}): VmSocket {
    const remote = parseIp(address);
    const listener = this.#listenerFor(remote, port);
    if (listener === undefined) throw new SocketError(`connect to ${remote.text}:${port}`, SockErrno.ECONNREFUSED);
    const client = this.#make(IpProtocol.TCP, remote.family, options.cgroup ?? '/', { address: anyAddress(remote.family), port: 0 });
    this.#bind(client, remote, 0);
    client.remote = { address: remote, port };
    // Client: tcp_v4_connect sets SYN_SENT, then tcp_connect (CONNECT_CB, then
    // tcp_connect_init: RWND_INIT, TIMEOUT_INIT; tcp_ecn_send_syn: NEEDS_ECN).
    this.setState(client, TcpState.SYN_SENT);
    this.callSockOps(client.view, SockOp.TCP_CONNECT_CB);
    this.callSockOps(client.view, SockOp.RWND_INIT);
    this.callSockOps(client.view, SockOp.TIMEOUT_INIT);
    this.callSockOps(client.view, SockOp.NEEDS_ECN);
    // Server, on the SYN: a request socket (not a full socket), in the listener's cgroup.
    const request: SockView = {
      family: listener.family, protocol: IpProtocol.TCP, local: { address: remote, port }, remote: client.local,
      state: TcpState.NEW_SYN_RECV, fullsock: false, cookie: this.#nextCookie++, socket: undefined,
    };
    this.callSockOps(request, SockOp.RWND_INIT);
    this.callSockOps(request, SockOp.TIMEOUT_INIT);
    this.callSockOps(request, SockOp.NEEDS_ECN);
    // Client, on the SYN-ACK: tcp_finish_connect.
    this.setState(client, TcpState.ESTABLISHED);
    this.callSockOps(client.view, SockOp.ACTIVE_ESTABLISHED_CB);
    // Server, on the ACK: the child, cloned from the listener (its cb flags too), is
    // established (PASSIVE_ESTABLISHED_CB comes before tcp_set_state(ESTABLISHED)).
    const child = this.#make(IpProtocol.TCP, listener.family, listener.cgroup, { address: remote, port });
    child.remote = client.local;
    child.state = TcpState.SYN_RECV;
    child.sockOpsCbFlags = listener.sockOpsCbFlags;
    client.peer = child;
    child.peer = client;
    this.callSockOps(child.view, SockOp.PASSIVE_ESTABLISHED_CB);
    this.setState(child, TcpState.ESTABLISHED);
    listener.backlog.push(child);
    return client;
  }

  /** A connected TCP pair: a listener is made, connected to, accepted from and closed. */
  tcpPair(options: TcpPairOptions = {}): { client: VmSocket; server: VmSocket } {
    const cgroup = options.cgroup ?? '/';
    const listener = this.tcpListen({ address: options.address ?? '127.0.0.1', port: options.port ?? 0, cgroup: options.serverCgroup ?? cgroup });
    try {
      const client = this.tcpConnect(listener.local.address.text, listener.local.port, { cgroup });
      return { client, server: listener.accept() };
    } finally {
      listener.close();
    }
  }

  /** A UDP socket bound to `address:port`. */
  udpSocket(options: SocketFactoryOptions = {}): VmSocket {
    const address = parseIp(options.address ?? '127.0.0.1');
    const sock = this.#make(IpProtocol.UDP, address.family, options.cgroup ?? '/', { address, port: 0 });
    this.#bind(sock, address, options.port ?? 0);
    return sock;
  }

  /** An unbound UDP socket (as socket(2) makes it). */
  udpUnbound(options: { family?: number; cgroup?: string } = {}): VmSocket {
    const family = options.family ?? AddressFamily.INET;
    return this.#make(IpProtocol.UDP, family, options.cgroup ?? '/', { address: anyAddress(family), port: 0 });
  }

  /** connect(2) of a UDP socket: its default destination; the socket becomes ESTABLISHED. */
  udpConnect(sock: VmSocket, address: string, port: number): void {
    if (sock.kind !== 'udp') throw new SocketError(`udp connect on socket ${sock.fd}`, SockErrno.EINVAL);
    const remote = parseIp(address);
    if (sock.local.port === 0) this.#bind(sock, remote, 0);
    sock.remote = { address: remote, port };
    sock.state = TcpState.ESTABLISHED;
  }

  /**
   * Attaches a sock_ops runner for the sockets of `cgroup` (and below; default every socket).
   * Programs run in attach order.
   */
  attachSockOps(run: SockOpsRunner, options: { cgroup?: string } = {}): SockOpsLink {
    const entry: SockOpsAttachment = { cgroup: options.cgroup ?? '/', run };
    this.#sockOps.push(entry);
    const close = (): void => {
      const i = this.#sockOps.indexOf(entry);
      if (i >= 0) this.#sockOps.splice(i, 1);
    };
    return { close, [Symbol.dispose]: close };
  }

  /**
   * tcp_call_bpf: runs the sock_ops programs of the socket's cgroup; the `reply` of the last,
   * or -1 when one did not return 1 (or there are none: the kernel's tcp_call_bpf answers -1
   * without programs too). A request socket runs its listener's cgroup's programs.
   */
  callSockOps(view: SockView, op: number, args: readonly number[] = []): number {
    const cgroup = view.socket?.cgroup ?? this.#requestCgroup(view);
    let reply = -1;
    let ok = true;
    for (const a of [...this.#sockOps]) {
      if (!inCgroup(cgroup, a.cgroup)) continue;
      const r = a.run(view, op, args);
      if (r.ret !== 1) ok = false;
      reply = r.reply;
    }
    return ok ? reply : -1;
  }

  /** tcp_set_state: STATE_CB (old, new) when the socket enabled it, then the new state. */
  setState(sock: VmSocket, state: number): void {
    const old = sock.state;
    if (sock.sockOpsCbFlags & SockOpsCbFlag.STATE && old !== state) this.callSockOps(sock.view, SockOp.STATE_CB, [old, state]);
    sock.state = state;
  }

  /** @internal VmSocket.send. */
  send(sock: VmSocket, bytes: Uint8Array): number {
    if (sock.closed) throw new SocketError(`send on socket ${sock.fd}`, 9);
    if (sock.kind === 'udp') {
      if (sock.state !== TcpState.ESTABLISHED) throw new SocketError(`send on socket ${sock.fd}`, SockErrno.EDESTADDRREQ);
      return this.sendTo(sock, bytes, sock.remote.address.text, sock.remote.port);
    }
    if (sock.state !== TcpState.ESTABLISHED && sock.state !== TcpState.CLOSE_WAIT) throw new SocketError(`send on socket ${sock.fd}`, SockErrno.EPIPE);
    const psock = sock.psock;
    if (psock?.msgParser === undefined) {
      this.transmit(sock, bytes);
      return bytes.length;
    }
    const r = tcpBpfSendmsg(sock, psock, bytes, this);
    if (r < 0) throw new SocketError(`send on socket ${sock.fd}`, -r);
    return r;
  }

  /** @internal VmSocket.sendTo. */
  sendTo(sock: VmSocket, bytes: Uint8Array, address: string, port: number): number {
    if (sock.kind !== 'udp') throw new SocketError(`sendto on socket ${sock.fd}`, SockErrno.EINVAL);
    const to = parseIp(address);
    if (sock.local.port === 0) this.#bind(sock, to, 0);
    const target = this.#bound.get(this.#key(IpProtocol.UDP, to, port)) ?? this.#bound.get(this.#key(IpProtocol.UDP, anyAddress(to.family), port));
    sock.bytesSent += bytes.length;
    sock.segsOut++;
    // A connected UDP socket takes only what its peer address sends.
    if (target !== undefined && (target.state !== TcpState.ESTABLISHED
      || (formatIp(target.remote.address.bytes) === sock.local.address.text && target.remote.port === sock.local.port))) {
      this.deliver(target, bytes);
    }
    return bytes.length;
  }

  /** @internal The TCP stack's transmit: `bytes` arrive in the peer's receive queue. */
  transmit(sock: VmSocket, bytes: Uint8Array): void {
    this.#ackFin(sock);
    sock.bytesSent += bytes.length;
    sock.segsOut++;
    const peer = sock.peer;
    if (peer !== undefined && !peer.closed) this.deliver(peer, bytes);
  }

  /**
   * A segment arrives at `sock`: into its receive queue, or first through its sk_skb verdict
   * program (sk_psock_verdict_recv / sk_psock_verdict_apply): SK_PASS queues it, a redirect
   * moves it to the target's receive queue (BPF_F_INGRESS) or sends it through the target, SK_DROP
   * (or a target that left its maps) loses it.
   */
  deliver(sock: VmSocket, bytes: Uint8Array): void {
    const verdict = sock.psock?.skbVerdict;
    if (verdict === undefined) {
      sock.enqueue(bytes);
      return;
    }
    const r = verdict(sock, bytes);
    if (r.r0 !== 1) return;
    if (r.redirect === undefined) {
      sock.enqueue(r.bytes);
      return;
    }
    const other = r.redirect.sk;
    if (other.psock === undefined || other.closed) return;
    if (r.redirect.ingress) {
      other.enqueue(r.bytes);
      return;
    }
    // Out through the target: skb_send_sock → the target's sendmsg (its sk_msg program too).
    try {
      this.send(other, r.bytes);
    } catch (err) {
      if (!(err instanceof SocketError)) throw err;
    }
  }

  /** @internal VmSocket.close: out of every sockmap (sock_map_close), then the TCP close. */
  closeSocket(sock: VmSocket): void {
    for (const link of [...(sock.psock?.links ?? [])]) link.unlink();
    sock.psock = undefined;
    this.#fds.delete(sock.fd);
    const key = this.#key(sock.protocol, sock.local.address, sock.local.port);
    if (this.#bound.get(key) === sock) this.#bound.delete(key);
    if (sock.kind === 'udp') {
      sock.state = TcpState.CLOSE;
      return;
    }
    switch (sock.state) {
      case TcpState.LISTEN:
        this.setState(sock, TcpState.CLOSE);
        for (const child of sock.backlog.splice(0)) child.close();
        break;
      case TcpState.ESTABLISHED: {
        // Active close: FIN out, the peer moves to CLOSE_WAIT. Its ACK waits (a FIN puts the
        // receiver in pingpong mode: on loopback the kernel's ACK rides on the peer's next
        // segment — its data or its own FIN); see #ackFin.
        this.setState(sock, TcpState.FIN_WAIT1);
        const peer = sock.peer;
        if (peer !== undefined && !peer.closed && peer.state === TcpState.ESTABLISHED) {
          this.setState(peer, TcpState.CLOSE_WAIT);
          peer.finAckOwed = sock;
        }
        break;
      }
      case TcpState.CLOSE_WAIT: {
        // Passive close: FIN out with the owed ACK (LAST_ACK); the other end leaves FIN_WAIT1
        // and, getting the FIN, goes through time-wait; its ACK closes this end.
        this.setState(sock, TcpState.LAST_ACK);
        const other = sock.finAckOwed;
        sock.finAckOwed = undefined;
        if (other !== undefined && other.state === TcpState.FIN_WAIT1) {
          this.setState(other, TcpState.FIN_WAIT2);
          this.setState(other, TcpState.CLOSE);
        }
        this.setState(sock, TcpState.CLOSE);
        break;
      }
      default:
        this.setState(sock, TcpState.CLOSE);
    }
  }

  /**
   * A segment from `sock` carries the ACK of the FIN it owes: the closed end leaves FIN_WAIT1
   * and, orphaned, passes FIN_WAIT2 straight into time-wait (tcp_time_wait → tcp_done: CLOSE).
   */
  #ackFin(sock: VmSocket): void {
    const other = sock.finAckOwed;
    if (other === undefined) return;
    sock.finAckOwed = undefined;
    if (other.state !== TcpState.FIN_WAIT1) return;
    this.setState(other, TcpState.FIN_WAIT2);
    this.setState(other, TcpState.CLOSE);
  }

  #make(protocol: number, family: number, cgroup: string, local: Endpoint): VmSocket {
    const sock = new VmSocket(this, {
      fd: this.#nextFd++, protocol, family, cookie: this.#nextCookie++, cgroup, local, remote: { address: anyAddress(family), port: 0 },
    });
    this.#fds.set(sock.fd, sock);
    return sock;
  }

  #key(protocol: number, address: IpAddress, port: number): string {
    return `${protocol}/${address.text}/${port}`;
  }

  #bind(sock: VmSocket, address: IpAddress, port: number): void {
    if (address.family !== sock.family) throw new SocketError(`bind socket ${sock.fd} to ${address.text}`, SockErrno.EINVAL);
    let p = port;
    if (p === 0) {
      for (let tries = 0; ; tries++) {
        if (tries > EPHEMERAL_HIGH - EPHEMERAL_LOW) throw new SocketError(`bind socket ${sock.fd}`, SockErrno.EADDRINUSE);
        p = this.#nextPort;
        this.#nextPort = p === EPHEMERAL_HIGH ? EPHEMERAL_LOW : p + 1;
        if (!this.#bound.has(this.#key(sock.protocol, address, p))) break;
      }
    } else if (!Number.isInteger(p) || p < 0 || p > 65535) {
      throw new RangeError(`port ${p} is not 0..65535`);
    } else if (this.#bound.has(this.#key(sock.protocol, address, p))) {
      throw new SocketError(`bind socket ${sock.fd} to ${address.text}:${p}`, SockErrno.EADDRINUSE);
    }
    sock.local = { address, port: p };
    this.#bound.set(this.#key(sock.protocol, address, p), sock);
  }

  #listenerFor(address: IpAddress, port: number): VmSocket | undefined {
    for (const a of [address, anyAddress(address.family)]) {
      const s = this.#bound.get(this.#key(IpProtocol.TCP, a, port));
      if (s !== undefined && s.state === TcpState.LISTEN) return s;
    }
    return undefined;
  }

  #requestCgroup(view: SockView): string {
    const listener = this.#listenerFor(view.local.address, view.local.port);
    return listener?.cgroup ?? '/';
  }
}

const worlds = new WeakMap<object, SocketWorld>();

/** The socket world of `owner` (a VM object's map registry), made on first use. */
export function socketWorld(owner: object): SocketWorld {
  let world = worlds.get(owner);
  if (world === undefined) {
    world = new SocketWorld();
    worlds.set(owner, world);
  }
  return world;
}

