/**
 * BPF_MAP_TYPE_XSKMAP (net/xdp/xskmap.c): AF_XDP sockets for bpf_redirect_map, indexed like an
 * array. A host value is a socket fd; in the VM, the id of a bound socket of the registry's
 * {@link MapEnvironment} (`xskSockets`), EBADF for any other. bpf() cannot read it back
 * (lookups answer EOPNOTSUPP). A program's bpf_map_lookup_elem gets a pointer the kernel types
 * as `struct xdp_sock *`; the VM's stand-in is a read-only region holding the socket's
 * `{ u32 id, u32 ifindex, u32 queue_id }` — good for the NULL check programs make, not for
 * reading the kernel struct's fields.
 */
import type { Region } from '../memory.js';
import { arrayNextKey } from './array.js';
import { mapEnvironment, type VmXskSocket } from './environment.js';
import { Errno } from './errno.js';
import { BPF_EXIST, BPF_NOEXIST } from './flags.js';
import { BaseMap, type MapInfo, type MapValue, u32, u32Bytes } from './map.js';
import type { MapRegistry } from './registry.js';

/** Bytes of the VM's stand-in for `struct xdp_sock`. */
export const XSK_STANDIN_SIZE = 12;

/** One slot: the socket and the region a program's lookup points to. */
export interface XskmapEntry {
  readonly socket: VmXskSocket;
  readonly region: Region;
}

/** BPF_MAP_TYPE_XSKMAP. */
export class XskMap extends BaseMap {
  readonly #slots = new Map<number, XskmapEntry>();

  constructor(registry: MapRegistry, info: Omit<MapInfo, 'id'>) {
    super(registry, info);
  }

  /** __xsk_map_lookup_elem. */
  entry(index: number): XskmapEntry | undefined {
    return index >>> 0 < this.maxEntries ? this.#slots.get(index >>> 0) : undefined;
  }

  override programLookup(key: Uint8Array): number {
    return this.entry(u32(key))?.region.start ?? 0;
  }

  /** xsk_map_lookup_elem_sys_only. */
  protected sysLookup(): MapValue | number {
    return -Errno.EOPNOTSUPP;
  }

  /** xsk_map_update_elem. */
  protected sysUpdate(key: Uint8Array | undefined, value: MapValue, flags: bigint): number {
    const index = u32(key!);
    if (flags > BPF_EXIST) return -Errno.EINVAL;
    if (index >= this.maxEntries) return -Errno.E2BIG;
    const id = u32(value as Uint8Array);
    const socket = mapEnvironment(this.registry).xskSockets.find((s) => s.id === id);
    if (socket === undefined) return -Errno.EBADF;
    const old = this.#slots.get(index);
    if (old?.socket === socket) return 0;
    if (old !== undefined && flags === BPF_NOEXIST) return -Errno.EEXIST;
    if (old === undefined && flags === BPF_EXIST) return -Errno.ENOENT;
    const init = new Uint8Array(XSK_STANDIN_SIZE);
    init.set(u32Bytes(socket.id), 0);
    init.set(u32Bytes(socket.ifindex), 4);
    init.set(u32Bytes(socket.queueId), 8);
    const region = this.registry.memory.alloc(XSK_STANDIN_SIZE, { kind: 'map_value', name: `map '${this.name}' xsk ${socket.id}`, writable: false, init });
    this.#free(index);
    this.#slots.set(index, { socket, region });
    return 0;
  }

  #free(index: number): void {
    const old = this.#slots.get(index);
    if (old === undefined) return;
    this.registry.memory.release(old.region);
    this.#slots.delete(index);
  }

  /** xsk_map_delete_elem: any index in range, present or not. */
  protected sysDelete(key: Uint8Array | undefined): number {
    const index = u32(key!);
    if (index >= this.maxEntries) return -Errno.EINVAL;
    this.#free(index);
    return 0;
  }

  protected sysNextKey(key: Uint8Array | undefined): Uint8Array | number {
    return arrayNextKey(key, this.maxEntries);
  }

  protected release(): void {
    for (const index of [...this.#slots.keys()]) this.#free(index);
  }
}
