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

/** `BPF_OBJ_NAME_LEN`: program and map names hold at most 15 bytes and a NUL. */
export const BPF_OBJ_NAME_LEN = 16;

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
}

/** `text` as a NUL-terminated C string for the kernel. */
export function cString(text: string): Uint8Array {
  const encoded = new TextEncoder().encode(text);
  const out = new Uint8Array(encoded.length + 1);
  out.set(encoded);
  return out;
}
