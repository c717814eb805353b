/**
 * BPF_MAP_TYPE_SOCKMAP and BPF_MAP_TYPE_SOCKHASH (net/core/sock_map.c): maps of sockets of the
 * VM's {@link SocketWorld}. The host updates them with a socket's fd (u32 or u64 value); a
 * socket must be a TCP socket established or listening, or a UDP socket (EOPNOTSUPP
 * otherwise). A host lookup answers the socket's cookie when values are 8 bytes and ENOSPC
 * when they are 4. Joining a map gives a socket the map's programs (its `sk_psock`: the sk_msg
 * program attached to the map at that moment); closing the socket takes it out of every map.
 */
import { NotSupportedError } from '../../errors.js';
import { Psock, TcpState, type SkbVerdictRun, type SkMsg, type SockLink, type VmSocket } from '../sockets/socket.js';
import { socketWorld, type SocketWorld } from '../sockets/world.js';
import { Errno } from './errno.js';
import { MapError } from './errors.js';
import { MapFlag, MapType } from './flags.js';
import { BaseMap, type MapInfo, type MapValue, u32, u32Bytes } from './map.js';
import type { MapRegistry } from './registry.js';

/** SOCK_CREATE_FLAG_MASK. */
const SOCK_CREATE_FLAG_MASK = MapFlag.NUMA_NODE | MapFlag.RDONLY | MapFlag.WRONLY;
/** MAX_BPF_STACK: the largest SOCKHASH key. */
const MAX_BPF_STACK = 512;
const S32_MAX = 0x7fffffff;
/** The largest SOCKMAP the VM makes. */
export const VM_MAX_SOCKMAP_ENTRIES = 2 ** 28;

/** Map creation checks (sock_map_alloc / sock_hash_alloc): 0 or -errno. */
export function checkSockMap(a: { type: number; keySize: number; valueSize: number; maxEntries: number; flags: number }): number {
  const hash = a.type === MapType.SOCKHASH;
  if (a.maxEntries === 0 || (hash ? a.keySize === 0 : a.keySize !== 4) || (a.valueSize !== 4 && a.valueSize !== 8)
    || a.flags & ~SOCK_CREATE_FLAG_MASK) return -Errno.EINVAL;
  if (hash && a.keySize > MAX_BPF_STACK) return -Errno.E2BIG;
  // sock_hash_alloc: roundup_pow_of_two(max_entries) buckets of 16 bytes, counted in a u32.
  if (hash && 2 ** Math.ceil(Math.log2(a.maxEntries)) > Math.floor(0xffffffff / 16)) return -Errno.EINVAL;
  // The kernel allocates max_entries socket pointers up front (out of memory past a few GiB);
  // the VM's slots are sparse but it stops at 2^28 (2 GiB of pointers in the kernel).
  if (!hash && a.maxEntries > VM_MAX_SOCKMAP_ENTRIES) return -Errno.ENOMEM;
  return 0;
}

/** An sk_msg program attached to a sockmap (the run function sockets take when they join). */
export interface SockMapProgram {
  readonly name: string;
  readonly run: (msg: SkMsg) => number;
}

/** An sk_skb verdict program attached to a sockmap, as stream_verdict or skb_verdict. */
export interface SockMapVerdict {
  readonly name: string;
  readonly kind: 'stream_verdict' | 'skb_verdict';
  readonly run: SkbVerdictRun;
}

/** What SOCKMAP and SOCKHASH share: the socket world, the programs, linking sockets in. */
export abstract class SockMapBase extends BaseMap {
  readonly world: SocketWorld;
  /** The map's sk_msg program (`progs.msg_parser`). */
  msgParser: SockMapProgram | undefined;
  /** The map's sk_skb verdict program (`progs.stream_verdict` or `progs.skb_verdict`). */
  skbVerdict: SockMapVerdict | undefined;

  constructor(registry: MapRegistry, info: Omit<MapInfo, 'id'>) {
    super(registry, info);
    this.world = socketWorld(registry);
  }

  /**
   * Attaches an sk_msg program (BPF_SK_MSG_VERDICT); sockets that join from now on run it.
   * EBUSY when the map has one (as a bpf_link attach). Returns the detach function.
   */
  attachMsgParser(program: SockMapProgram): () => void {
    this.checkOpen();
    if (this.msgParser !== undefined) throw new MapError(`attach sk_msg program '${program.name}' to ${this.label}`, Errno.EBUSY, { detail: `'${this.msgParser.name}' is attached` });
    this.msgParser = program;
    return () => {
      if (this.msgParser === program) this.msgParser = undefined;
    };
  }

  /**
   * Attaches an sk_skb verdict program (BPF_SK_SKB_STREAM_VERDICT or BPF_SK_SKB_VERDICT): EBUSY
   * when the map has a verdict program of either kind (sock_map_prog_update, link attach).
   */
  attachSkbVerdict(program: SockMapVerdict): () => void {
    this.checkOpen();
    if (this.skbVerdict !== undefined) {
      throw new MapError(`attach sk_skb program '${program.name}' to ${this.label}`, Errno.EBUSY, { detail: `'${this.skbVerdict.name}' is attached as ${this.skbVerdict.kind}` });
    }
    this.skbVerdict = program;
    return () => {
      if (this.skbVerdict === program) this.skbVerdict = undefined;
    };
  }

  /** The sockets in the map. */
  abstract sockets(): VmSocket[];

  /** sock_map_update_elem_sys: the fd, the socket's kind and state, then the type's update. */
  protected sysUpdate(key: Uint8Array | undefined, value: MapValue, flags: bigint): number {
    const v = value as Uint8Array;
    const ufd = this.valueSize === 8 ? new DataView(v.buffer, v.byteOffset, 8).getBigUint64(0, true) : BigInt(u32(v));
    if (ufd > BigInt(S32_MAX)) return -Errno.EINVAL;
    const sock = this.world.byFd(Number(ufd));
    if (sock === undefined) return -Errno.EBADF;
    // sock_map_sk_state_allowed: TCP established or listening; UDP once bound (hashed).
    if (sock.kind === 'tcp' ? sock.state !== TcpState.ESTABLISHED && sock.state !== TcpState.LISTEN : sock.local.port === 0) return -Errno.EOPNOTSUPP;
    return this.updateCommon(key!, sock, flags);
  }

  /** sock_map_update_common / sock_hash_update_common: 0 or -errno. */
  abstract updateCommon(key: Uint8Array, sock: VmSocket, flags: bigint): number;

  /** bpf_map_update_elem with a socket pointer from a program: not modelled. */
  override programUpdate(): number {
    throw new NotSupportedError(`bpf_map_update_elem on ${this.label} from a program (a socket pointer value) is not supported by the VM`);
  }

  /** bpf_map_lookup_elem from a program (a referenced socket pointer): not modelled. */
  override programLookup(): number {
    throw new NotSupportedError(`bpf_map_lookup_elem on ${this.label} from a program (a socket pointer result) is not supported by the VM`);
  }

  override programDelete(key: Uint8Array): number {
    return this.sysDelete(key);
  }

  /** The host lookup's value: the socket cookie (8-byte values), ENOSPC otherwise. */
  protected cookieOf(sock: VmSocket | undefined): MapValue | number {
    if (this.valueSize !== 8) return -Errno.ENOSPC;
    if (sock === undefined) return -Errno.ENOENT;
    const out = new Uint8Array(8);
    new DataView(out.buffer).setBigUint64(0, sock.cookie, true);
    return out;
  }

  /**
   * sock_map_link: the socket's psock, made if need be, takes the map's sk_msg program.
   * EBUSY when both the socket and the map have one.
   */
  protected link(sock: VmSocket): number {
    const prog = this.msgParser;
    const verdict = this.skbVerdict;
    let psock = sock.psock;
    if (psock !== undefined) {
      if ((prog !== undefined && psock.msgParser !== undefined) || (verdict !== undefined && psock.skbVerdict !== undefined)) return -Errno.EBUSY;
    } else {
      psock = new Psock();
      sock.psock = psock;
    }
    if (prog !== undefined) {
      psock.msgParser = prog.run;
      psock.msgParserName = prog.name;
    }
    if (verdict !== undefined) psock.skbVerdict = verdict.run;
    return 0;
  }

  /** A failed update after link(): the psock goes if nothing holds it (sk_psock_put). */
  protected unlinkFailed(sock: VmSocket): void {
    if (sock.psock !== undefined && sock.psock.links.size === 0) sock.psock = undefined;
  }

  /** sock_map_unref: one map slot lets go of the socket. */
  protected unref(sock: VmSocket, link: SockLink): void {
    const psock = sock.psock;
    if (psock === undefined) return;
    psock.links.delete(link);
    if (psock.links.size === 0) sock.psock = undefined;
  }

  protected release(): void {
    this.clear();
    this.msgParser = undefined;
    this.skbVerdict = undefined;
  }

  /** Removes every socket (map free). */
  protected abstract clear(): void;
}

interface Slot {
  readonly sock: VmSocket;
  readonly link: SockLink;
}

/** BPF_MAP_TYPE_SOCKMAP: sockets by u32 index. */
export class SockMap extends SockMapBase {
  /** The occupied slots by index. */
  readonly #slots = new Map<number, Slot>();

  /** The socket at `index`. */
  socket(index: number): VmSocket | undefined {
    return this.#slots.get(index >>> 0)?.sock;
  }

  sockets(): VmSocket[] {
    return [...this.#slots.entries()].sort((a, b) => a[0] - b[0]).map(([, s]) => s.sock);
  }

  updateCommon(key: Uint8Array, sock: VmSocket, flags: bigint): number {
    const index = u32(key);
    if (flags > 2n) return -Errno.EINVAL;
    if (index >= this.maxEntries) return -Errno.E2BIG;
    const err = this.link(sock);
    if (err) return err;
    const old = this.#slots.get(index);
    if ((old !== undefined && flags === 1n) || (old === undefined && flags === 2n)) {
      this.unlinkFailed(sock);
      return old !== undefined ? -Errno.EEXIST : -Errno.ENOENT;
    }
    const slot: Slot = { sock, link: { map: this, unlink: () => this.#remove(index, slot) } };
    sock.psock!.links.add(slot.link);
    this.#slots.set(index, slot);
    if (old !== undefined) this.unref(old.sock, old.link);
    return 0;
  }

  #remove(index: number, slot: Slot): boolean {
    if (this.#slots.get(index) !== slot) return false;
    this.#slots.delete(index);
    this.unref(slot.sock, slot.link);
    return true;
  }

  protected sysLookup(key: Uint8Array | undefined): MapValue | number {
    if (this.valueSize !== 8) return -Errno.ENOSPC;
    return this.cookieOf(this.socket(u32(key!)));
  }

  /** sock_map_delete_elem: EINVAL for an index past the end or an empty slot. */
  protected sysDelete(key: Uint8Array | undefined): number {
    const index = u32(key!);
    if (index >= this.maxEntries) return -Errno.EINVAL;
    const slot = this.#slots.get(index);
    return slot !== undefined && this.#remove(index, slot) ? 0 : -Errno.EINVAL;
  }

  /** sock_map_get_next_key: as an array's. */
  protected sysNextKey(key: Uint8Array | undefined): Uint8Array | number {
    const i = key === undefined ? 0xffffffff : u32(key);
    if (i === this.maxEntries - 1) return -Errno.ENOENT;
    return u32Bytes(i >= this.maxEntries ? 0 : i + 1);
  }

  protected clear(): void {
    for (const [i, slot] of [...this.#slots]) this.#remove(i, slot);
  }
}

/** BPF_MAP_TYPE_SOCKHASH: sockets by a key of any size. */
export class SockHash extends SockMapBase {
  /** Elements by key (hex), in insertion order (the kernel's order follows a random hash seed). */
  readonly #elems = new Map<string, Slot & { key: Uint8Array }>();

  /** The socket under `key`. */
  socket(key: Uint8Array): VmSocket | undefined {
    return this.#elems.get(hexKey(key))?.sock;
  }

  sockets(): VmSocket[] {
    return [...this.#elems.values()].map((e) => e.sock);
  }

  updateCommon(key: Uint8Array, sock: VmSocket, flags: bigint): number {
    if (flags > 2n) return -Errno.EINVAL;
    const err = this.link(sock);
    if (err) return err;
    const k = hexKey(key);
    const old = this.#elems.get(k);
    if ((old !== undefined && flags === 1n) || (old === undefined && flags === 2n)) {
      this.unlinkFailed(sock);
      return old !== undefined ? -Errno.EEXIST : -Errno.ENOENT;
    }
    if (old === undefined && this.#elems.size >= this.maxEntries) {
      this.unlinkFailed(sock);
      return -Errno.E2BIG;
    }
    const elem: Slot & { key: Uint8Array } = { key: key.slice(), sock, link: { map: this, unlink: () => this.#remove(k, elem) } };
    sock.psock!.links.add(elem.link);
    // The new element goes to the head of its bucket, the old one is unlinked.
    if (old !== undefined) this.#elems.delete(k);
    this.#elems.set(k, elem);
    if (old !== undefined) this.unref(old.sock, old.link);
    return 0;
  }

  #remove(k: string, elem: Slot): boolean {
    if (this.#elems.get(k) !== elem) return false;
    this.#elems.delete(k);
    this.unref(elem.sock, elem.link);
    return true;
  }

  protected sysLookup(key: Uint8Array | undefined): MapValue | number {
    if (this.valueSize !== 8) return -Errno.ENOSPC;
    return this.cookieOf(this.socket(key!));
  }

  protected sysDelete(key: Uint8Array | undefined): number {
    const k = hexKey(key!);
    const elem = this.#elems.get(k);
    return elem !== undefined && this.#remove(k, elem) ? 0 : -Errno.ENOENT;
  }

  /** sock_hash_get_next_key: the key after `key`, the first when `key` is absent. */
  protected sysNextKey(key: Uint8Array | undefined): Uint8Array | number {
    const keys = [...this.#elems.keys()];
    const at = key === undefined ? -1 : keys.indexOf(hexKey(key));
    const next = keys[at + 1];
    return next === undefined ? -Errno.ENOENT : this.#elems.get(next)!.key.slice();
  }

  protected clear(): void {
    for (const [k, elem] of [...this.#elems]) this.#remove(k, elem);
  }
}

function hexKey(key: Uint8Array): string {
  let s = '';
  for (const b of key) s += b.toString(16).padStart(2, '0');
  return s;
}
