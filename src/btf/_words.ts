/** Word-order helpers shared by the BTF parser and serializer (private to src/btf). */

/** True on a little-endian host (typed arrays use the host's byte order). */
export const HOST_LE = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/** Reverses the bytes of every word of `w` in place. */
export function swapWords(w: Uint32Array): void {
  for (let i = 0; i < w.length; i++) {
    const v = w[i]!;
    w[i] = ((v & 0xff) << 24) | ((v & 0xff00) << 8) | ((v >>> 8) & 0xff00) | (v >>> 24);
  }
}
