/**
 * Bob Jenkins' lookup3 hash as the kernel has it (include/linux/jhash.h): `jhash` over bytes
 * and `jhash2` over 32-bit words. Hash maps pick buckets with it and bloom filters set bits
 * with it, so the VM reproduces the kernel's bucket order (BPF_F_ZERO_SEED) and a bloom
 * filter's false positives exactly. Words are read in host order; the kernel runs
 * little-endian here, as WebAssembly does.
 */

const JHASH_INITVAL = 0xdeadbeef;

function rol(x: number, k: number): number {
  return (x << k) | (x >>> (32 - k));
}

// The state lives in module scope so the hot functions allocate nothing.
let a = 0, b = 0, c = 0;

function mix(): void {
  a = (a - c) | 0; a ^= rol(c, 4); c = (c + b) | 0;
  b = (b - a) | 0; b ^= rol(a, 6); a = (a + c) | 0;
  c = (c - b) | 0; c ^= rol(b, 8); b = (b + a) | 0;
  a = (a - c) | 0; a ^= rol(c, 16); c = (c + b) | 0;
  b = (b - a) | 0; b ^= rol(a, 19); a = (a + c) | 0;
  c = (c - b) | 0; c ^= rol(b, 4); b = (b + a) | 0;
}

function final(): void {
  c ^= b; c = (c - rol(b, 14)) | 0;
  a ^= c; a = (a - rol(c, 11)) | 0;
  b ^= a; b = (b - rol(a, 25)) | 0;
  c ^= b; c = (c - rol(b, 16)) | 0;
  a ^= c; a = (a - rol(c, 4)) | 0;
  b ^= a; b = (b - rol(a, 14)) | 0;
  c ^= b; c = (c - rol(b, 24)) | 0;
}

function word(k: Uint8Array, i: number): number {
  return k[i]! | (k[i + 1]! << 8) | (k[i + 2]! << 16) | (k[i + 3]! << 24);
}

/** `jhash(key, length, initval)`: the bytes `key[offset .. offset + length)`. */
export function jhash(key: Uint8Array, length: number, initval: number, offset = 0): number {
  a = b = c = (JHASH_INITVAL + length + initval) | 0;
  let i = offset;
  let n = length;
  while (n > 12) {
    a = (a + word(key, i)) | 0;
    b = (b + word(key, i + 4)) | 0;
    c = (c + word(key, i + 8)) | 0;
    mix();
    n -= 12;
    i += 12;
  }
  if (n === 0) return c >>> 0;
  // The kernel's switch falls through from `n` down to 1.
  if (n >= 12) c = (c + (key[i + 11]! << 24)) | 0;
  if (n >= 11) c = (c + (key[i + 10]! << 16)) | 0;
  if (n >= 10) c = (c + (key[i + 9]! << 8)) | 0;
  if (n >= 9) c = (c + key[i + 8]!) | 0;
  if (n >= 8) b = (b + (key[i + 7]! << 24)) | 0;
  if (n >= 7) b = (b + (key[i + 6]! << 16)) | 0;
  if (n >= 6) b = (b + (key[i + 5]! << 8)) | 0;
  if (n >= 5) b = (b + key[i + 4]!) | 0;
  if (n >= 4) a = (a + (key[i + 3]! << 24)) | 0;
  if (n >= 3) a = (a + (key[i + 2]! << 16)) | 0;
  if (n >= 2) a = (a + (key[i + 1]! << 8)) | 0;
  a = (a + key[i]!) | 0;
  final();
  return c >>> 0;
}

/** `jhash2(words, length, initval)`: `length` 32-bit words starting at byte `offset` of `key`. */
export function jhash2(key: Uint8Array, length: number, initval: number, offset = 0): number {
  a = b = c = (JHASH_INITVAL + (length << 2) + initval) | 0;
  let i = offset;
  let n = length;
  while (n > 3) {
    a = (a + word(key, i)) | 0;
    b = (b + word(key, i + 4)) | 0;
    c = (c + word(key, i + 8)) | 0;
    mix();
    n -= 3;
    i += 12;
  }
  if (n === 0) return c >>> 0;
  if (n >= 3) c = (c + word(key, i + 8)) | 0;
  if (n >= 2) b = (b + word(key, i + 4)) | 0;
  a = (a + word(key, i)) | 0;
  final();
  return c >>> 0;
}

/**
 * The hash a hash map or bloom filter takes of `size` bytes (kernel: htab_map_hash and the
 * bloom filter's hash()): jhash2 over words when the size is a multiple of 4, else jhash.
 */
export function mapHash(key: Uint8Array, size: number, seed: number, offset = 0): number {
  return size % 4 === 0 ? jhash2(key, size / 4, seed, offset) : jhash(key, size, seed, offset);
}
