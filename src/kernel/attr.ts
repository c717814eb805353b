/**
 * `union bpf_attr` layouts, one per command, as byte offsets (include/uapi/linux/bpf.h).
 * Pointers are `__aligned_u64` addresses; strings are NUL-terminated. Attrs are built as
 * zeroed bytes of the full size: a kernel with a smaller `bpf_attr` accepts the tail because it
 * is zero, and one with a larger `bpf_attr` zero-fills what we did not send.
 */

/** Offsets of the BPF_PROG_LOAD struct. */
export const PROG_LOAD = {
  prog_type: 0, // u32
  insn_cnt: 4, // u32
  insns: 8, // u64 pointer
  license: 16, // u64 pointer
  log_level: 24, // u32
  log_size: 28, // u32
  log_buf: 32, // u64 pointer
  kern_version: 40, // u32
  prog_flags: 44, // u32
  prog_name: 48, // char[16]
  prog_ifindex: 64, // u32
  expected_attach_type: 68, // u32
  prog_btf_fd: 72, // u32
  func_info_rec_size: 76, // u32
  func_info: 80, // u64 pointer
  func_info_cnt: 88, // u32
  line_info_rec_size: 92, // u32
  line_info: 96, // u64 pointer
  line_info_cnt: 104, // u32
  attach_btf_id: 108, // u32
  attach_prog_fd: 112, // u32, union with attach_btf_obj_fd
  core_relo_cnt: 116, // u32
  fd_array: 120, // u64 pointer
  core_relos: 128, // u64 pointer
  core_relo_rec_size: 136, // u32
  log_true_size: 140, // u32, output (6.4+)
  prog_token_fd: 144, // s32
  fd_array_cnt: 148, // u32
  signature: 152, // u64 pointer
  signature_size: 160, // u32
  keyring_id: 164, // s32
  SIZE: 168,
} as const;

/** Offsets of the BPF_MAP_CREATE struct. */
export const MAP_CREATE = {
  map_type: 0, // u32
  key_size: 4, // u32
  value_size: 8, // u32
  max_entries: 12, // u32
  map_flags: 16, // u32
  inner_map_fd: 20, // u32
  numa_node: 24, // u32
  map_name: 28, // char[16]
  map_ifindex: 44, // u32
  btf_fd: 48, // u32
  btf_key_type_id: 52, // u32
  btf_value_type_id: 56, // u32
  btf_vmlinux_value_type_id: 60, // u32
  map_extra: 64, // u64
  value_type_btf_obj_fd: 72, // s32
  map_token_fd: 76, // s32
  excl_prog_hash: 80, // u64 pointer (6.18+)
  excl_prog_hash_size: 88, // u32
  SIZE: 96,
} as const;

/** Offsets of the struct of BPF_MAP_LOOKUP_ELEM, _UPDATE_ELEM, _DELETE_ELEM, _GET_NEXT_KEY, _LOOKUP_AND_DELETE_ELEM and BPF_MAP_FREEZE. */
export const MAP_ELEM = {
  map_fd: 0, // u32
  key: 8, // u64 pointer
  value: 16, // u64 pointer, union with next_key
  next_key: 16,
  flags: 24, // u64
  SIZE: 32,
} as const;

/** Offsets of `attr.batch`, for BPF_MAP_LOOKUP_BATCH and the other batch commands. */
export const MAP_BATCH = {
  in_batch: 0, // u64 pointer; 0 starts at the beginning
  out_batch: 8, // u64 pointer, output
  keys: 16, // u64 pointer
  values: 24, // u64 pointer
  count: 32, // u32, in/out
  map_fd: 36, // u32
  elem_flags: 40, // u64
  flags: 48, // u64
  SIZE: 56,
} as const;

/** Offsets of the BPF_OBJ_PIN / BPF_OBJ_GET struct. */
export const OBJ = {
  pathname: 0, // u64 pointer
  bpf_fd: 8, // u32
  file_flags: 12, // u32
  path_fd: 16, // s32
  SIZE: 24,
} as const;

/** Offsets of the BPF_*_GET_NEXT_ID / BPF_*_GET_FD_BY_ID struct. */
export const GET_ID = {
  start_id: 0, // u32, union with prog_id, map_id, btf_id, link_id
  id: 0,
  next_id: 4, // u32, output
  open_flags: 8, // u32
  fd_by_id_token_fd: 12, // s32
  SIZE: 16,
} as const;

/** Offsets of `attr.info`, for BPF_OBJ_GET_INFO_BY_FD. */
export const INFO = {
  bpf_fd: 0, // u32
  info_len: 4, // u32, in/out
  info: 8, // u64 pointer
  SIZE: 16,
} as const;

/** Offsets of the BPF_BTF_LOAD struct. */
export const BTF_LOAD = {
  btf: 0, // u64 pointer
  btf_log_buf: 8, // u64 pointer
  btf_size: 16, // u32
  btf_log_size: 20, // u32
  btf_log_level: 24, // u32
  btf_log_true_size: 28, // u32, output (6.4+)
  btf_flags: 32, // u32
  btf_token_fd: 36, // s32
  SIZE: 40,
} as const;

/** Offsets of `attr.enable_stats`, for BPF_ENABLE_STATS. */
export const ENABLE_STATS = {
  type: 0, // u32, enum bpf_stats_type
  SIZE: 8,
} as const;

/** `BPF_OBJ_NAME_LEN`: program and map names hold at most 15 bytes and a NUL. */
export const BPF_OBJ_NAME_LEN = 16;

/** Offsets of the BPF_PROG_BIND_MAP struct (`attr.prog_bind_map`, 5.10+). */
export const PROG_BIND_MAP = {
  prog_fd: 0, // u32
  map_fd: 4, // u32
  flags: 8, // u32
  SIZE: 12,
} as const;

/** Offsets of the BPF_PROG_TEST_RUN struct (`attr.test`). */
export const PROG_TEST_RUN = {
  prog_fd: 0, // u32
  retval: 4, // u32, output
  data_size_in: 8, // u32
  data_size_out: 12, // u32, in/out
  data_in: 16, // u64 pointer
  data_out: 24, // u64 pointer
  repeat: 32, // u32
  duration: 36, // u32, output: average ns per run
  ctx_size_in: 40, // u32
  ctx_size_out: 44, // u32, in/out
  ctx_in: 48, // u64 pointer
  ctx_out: 56, // u64 pointer
  flags: 64, // u32
  cpu: 68, // u32
  batch_size: 72, // u32
  SIZE: 80,
} as const;

/** bpf_attr is in the host's byte order; Node runs little-endian on every Linux target it supports except s390x. */
const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/** A zeroed attr of `size` bytes with typed writes and reads at byte offsets, in host byte order. */
export class Attr {
  readonly bytes: Uint8Array;
  readonly #view: DataView;

  constructor(size: number) {
    this.bytes = new Uint8Array(size);
    this.#view = new DataView(this.bytes.buffer);
  }

  /** Writes a `__u32` (values are taken modulo 2^32). */
  u32(offset: number, value: number): this {
    this.#view.setUint32(offset, value >>> 0, LITTLE_ENDIAN);
    return this;
  }

  /** Writes a `__s32`. */
  s32(offset: number, value: number): this {
    this.#view.setInt32(offset, value, LITTLE_ENDIAN);
    return this;
  }

  /** Writes a `__u64` or `__aligned_u64` pointer (modulo 2^64). */
  u64(offset: number, value: bigint): this {
    this.#view.setBigUint64(offset, BigInt.asUintN(64, value), LITTLE_ENDIAN);
    return this;
  }

  /** Writes `text` as UTF-8 with a terminating NUL into a field of `size` bytes. */
  cstring(offset: number, text: string, size: number): this {
    const encoded = new TextEncoder().encode(text);
    if (encoded.length >= size) throw new RangeError(`'${text}' is longer than ${size - 1} bytes`);
    this.bytes.set(encoded, offset);
    return this;
  }

  /** Reads a `__u32` the kernel may have written back. */
  readU32(offset: number): number {
    return this.#view.getUint32(offset, LITTLE_ENDIAN);
  }

  /** Reads a `__u64`. */
  readU64(offset: number): bigint {
    return this.#view.getBigUint64(offset, LITTLE_ENDIAN);
  }
}

/**
 * Typed reads at byte offsets of a structure the kernel filled (`bpf_map_info`, a perf
 * record header, …), in host byte order.
 */
export class StructReader {
  readonly bytes: Uint8Array;
  readonly #view: DataView;

  constructor(bytes: Uint8Array) {
    this.bytes = bytes;
    this.#view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }

  u16(offset: number): number {
    return this.#view.getUint16(offset, LITTLE_ENDIAN);
  }

  u32(offset: number): number {
    return this.#view.getUint32(offset, LITTLE_ENDIAN);
  }

  s32(offset: number): number {
    return this.#view.getInt32(offset, LITTLE_ENDIAN);
  }

  u64(offset: number): bigint {
    return this.#view.getBigUint64(offset, LITTLE_ENDIAN);
  }

  /** A `char[size]` field up to its NUL, as UTF-8 text. */
  cstring(offset: number, size: number): string {
    const field = this.bytes.subarray(offset, offset + size);
    const end = field.indexOf(0);
    return new TextDecoder().decode(end < 0 ? field : field.subarray(0, end));
  }
}

/** Whether this host is little-endian (bpf_attr, map keys of integers and ring headers follow it). */
export const HOST_LITTLE_ENDIAN: boolean = LITTLE_ENDIAN;

/** `text` as a NUL-terminated C string for the kernel. */
export function cString(text: string): Uint8Array {
  const encoded = new TextEncoder().encode(text);
  const out = new Uint8Array(encoded.length + 1);
  out.set(encoded);
  return out;
}
