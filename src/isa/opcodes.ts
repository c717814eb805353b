/**
 * Opcode fields of the eBPF instruction set, with the kernel's names and values
 * (include/uapi/linux/bpf.h, bpf_common.h; RFC 9669 section 3 onwards).
 */

// Instruction classes: the low three bits of the opcode.
export const BPF_LD = 0x00;
export const BPF_LDX = 0x01;
export const BPF_ST = 0x02;
export const BPF_STX = 0x03;
export const BPF_ALU = 0x04;
export const BPF_JMP = 0x05;
export const BPF_JMP32 = 0x06;
export const BPF_ALU64 = 0x07;

// Source operand bit for ALU and jump classes.
export const BPF_K = 0x00;
export const BPF_X = 0x08;

// ALU operations (high four bits).
export const BPF_ADD = 0x00;
export const BPF_SUB = 0x10;
export const BPF_MUL = 0x20;
export const BPF_DIV = 0x30;
export const BPF_OR = 0x40;
export const BPF_AND = 0x50;
export const BPF_LSH = 0x60;
export const BPF_RSH = 0x70;
export const BPF_NEG = 0x80;
export const BPF_MOD = 0x90;
export const BPF_XOR = 0xa0;
export const BPF_MOV = 0xb0;
export const BPF_ARSH = 0xc0;
export const BPF_END = 0xd0;

// Byte-swap direction for BPF_END in class BPF_ALU (class BPF_ALU64 means unconditional bswap).
export const BPF_TO_LE = 0x00;
export const BPF_TO_BE = 0x08;

// Jump operations.
export const BPF_JA = 0x00;
export const BPF_JEQ = 0x10;
export const BPF_JGT = 0x20;
export const BPF_JGE = 0x30;
export const BPF_JSET = 0x40;
export const BPF_JNE = 0x50;
export const BPF_JSGT = 0x60;
export const BPF_JSGE = 0x70;
export const BPF_CALL = 0x80;
export const BPF_EXIT = 0x90;
export const BPF_JLT = 0xa0;
export const BPF_JLE = 0xb0;
export const BPF_JSLT = 0xc0;
export const BPF_JSLE = 0xd0;
/** `may_goto` (kernel 6.9+): BPF_JMP | BPF_JCOND with src = BPF_MAY_GOTO. */
export const BPF_JCOND = 0xe0;
export const BPF_MAY_GOTO = 0;

// Load/store size (bits 3-4).
export const BPF_W = 0x00;
export const BPF_H = 0x08;
export const BPF_B = 0x10;
export const BPF_DW = 0x18;

// Load/store mode (bits 5-7).
export const BPF_IMM = 0x00;
export const BPF_ABS = 0x20;
export const BPF_IND = 0x40;
export const BPF_MEM = 0x60;
export const BPF_MEMSX = 0x80;
export const BPF_ATOMIC = 0xc0;

// Atomic operations (in imm).
export const BPF_FETCH = 0x01;
export const BPF_XCHG = 0xe0 | BPF_FETCH;
export const BPF_CMPXCHG = 0xf0 | BPF_FETCH;
/** Load-acquire and store-release (kernel 6.15+). */
export const BPF_LOAD_ACQ = 0x100;
export const BPF_STORE_REL = 0x110;

// Pseudo source registers of `lddw` (BPF_LD | BPF_IMM | BPF_DW).
export const BPF_PSEUDO_MAP_FD = 1;
export const BPF_PSEUDO_MAP_VALUE = 2;
export const BPF_PSEUDO_BTF_ID = 3;
export const BPF_PSEUDO_FUNC = 4;
export const BPF_PSEUDO_MAP_IDX = 5;
export const BPF_PSEUDO_MAP_IDX_VALUE = 6;

// Pseudo source registers of BPF_CALL.
export const BPF_PSEUDO_CALL = 1;
export const BPF_PSEUDO_KFUNC_CALL = 2;

/** `off` of ALU64 MOV X that marks `addr_space_cast` (kernel 6.9+). */
export const BPF_ADDR_SPACE_CAST = 1;

/** The frame pointer register, read-only. */
export const BPF_REG_FP = 10;
/** Number of registers r0..r10. */
export const MAX_BPF_REG = 11;
/** Bytes of stack per frame. */
export const MAX_BPF_STACK = 512;
/** Maximum depth of bpf-to-bpf calls (frames). */
export const MAX_CALL_FRAMES = 8;

export const cls = (code: number): number => code & 0x07;
export const aluOp = (code: number): number => code & 0xf0;
export const srcBit = (code: number): number => code & 0x08;
export const sizeBits = (code: number): number => code & 0x18;
export const modeBits = (code: number): number => code & 0xe0;

/** Bytes accessed for a size field value. */
export function sizeBytes(size: number): 1 | 2 | 4 | 8 {
  switch (size) {
    case BPF_B: return 1;
    case BPF_H: return 2;
    case BPF_W: return 4;
    default: return 8;
  }
}

/** Size field value for a byte count. */
export function sizeField(bytes: 1 | 2 | 4 | 8): number {
  switch (bytes) {
    case 1: return BPF_B;
    case 2: return BPF_H;
    case 4: return BPF_W;
    case 8: return BPF_DW;
  }
}
