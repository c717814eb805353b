/**
 * The BTF wire format's fixed numbers (kernel: include/uapi/linux/btf.h, tools/lib/bpf/libbpf_internal.h),
 * shared by the parser and the serializer of `.BTF` and `.BTF.ext`.
 */

/** `btf_header.magic`; read as 0x9feb the data is of the other byte order. */
export const BTF_MAGIC = 0xeb9f;
/** `btf_header.version` and `btf_ext_header.version`. */
export const BTF_VERSION = 1;
/** sizeof(struct btf_header): magic, version, flags, hdr_len, type_off, type_len, str_off, str_len. */
export const BTF_HEADER_SIZE = 24;
/** sizeof(struct btf_type): name_off, info, size/type. */
export const BTF_TYPE_SIZE = 12;
/** Largest string offset the kernel accepts (BTF_MAX_NAME_OFFSET). */
export const BTF_MAX_NAME_OFFSET = 0xffffff;
/** Largest number of types (BTF_MAX_TYPE). */
export const BTF_MAX_TYPE = 0xfffff;
/** Largest vlen (BTF_MAX_VLEN). */
export const BTF_MAX_VLEN = 0xffff;

/** Offsets of the fields of `struct btf_header`. */
export const BTF_HDR = {
  magic: 0, version: 2, flags: 3, hdrLen: 4, typeOff: 8, typeLen: 12, strOff: 16, strLen: 20,
} as const;

/**
 * `struct btf_ext_header` up to line_info_len (the part every version has), and with the
 * optional core_relo_off/core_relo_len.
 */
export const BTF_EXT_HEADER_MIN_SIZE = 24;
export const BTF_EXT_HEADER_SIZE = 32;

/** Offsets of the fields of `struct btf_ext_header`. */
export const BTF_EXT_HDR = {
  magic: 0, version: 2, flags: 3, hdrLen: 4,
  funcInfoOff: 8, funcInfoLen: 12, lineInfoOff: 16, lineInfoLen: 20, coreReloOff: 24, coreReloLen: 28,
} as const;

/** Known record sizes: bpf_func_info, bpf_line_info, bpf_core_relo (libbpf's min_rec_size). */
export const FUNC_INFO_SIZE = 8;
export const LINE_INFO_SIZE = 16;
export const CORE_RELO_SIZE = 16;
/** sizeof(struct btf_ext_info_sec) without its records: sec_name_off, num_info. */
export const EXT_INFO_SEC_SIZE = 8;

/** `bpf_line_info.line_col`: line number in the high 22 bits, column in the low 10. */
export const LINE_COL_SHIFT = 10;
export const LINE_COL_MASK = 0x3ff;

