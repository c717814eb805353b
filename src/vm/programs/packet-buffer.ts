/**
 * A packet in VM memory the way the kernel keeps one: a buffer with headroom before the data
 * and tailroom after it, of which only the window a program may touch ([data_meta or data,
 * data_end)) is the accessible 'packet' region. Helpers that move the edges
 * (bpf_xdp_adjust_head/meta/tail) move the window inside the buffer.
 */
import type { Memory, Region } from '../memory.js';

export class PacketBuffer {
  /** The accessible window; its start and end move with the packet's edges. */
  readonly region: Region;
  /** First and one-past-last address of the whole buffer. */
  readonly bufferStart: number;
  readonly bufferEnd: number;
  readonly #memory: Memory;
  #released = false;

  /** Allocates `headroom + data.length + tailroom` bytes with `data` at `bufferStart + headroom`. */
  constructor(memory: Memory, data: Uint8Array, headroom: number, tailroom: number, name = 'packet') {
    this.#memory = memory;
    const total = headroom + data.length + tailroom;
    const init = new Uint8Array(total);
    init.set(data, headroom);
    this.region = memory.alloc(total, { kind: 'packet', name, init });
    this.bufferStart = this.region.start;
    this.bufferEnd = this.region.end;
    this.setWindow(this.bufferStart + headroom, this.bufferStart + headroom + data.length);
  }

  /** Makes `[start, end)` the accessible window (addresses inside the buffer). */
  setWindow(start: number, end: number): void {
    if (start < this.bufferStart || end > this.bufferEnd || start > end) {
      throw new RangeError(`packet window [0x${start.toString(16)}, 0x${end.toString(16)}) leaves its buffer`);
    }
    this.region.start = start;
    this.region.end = end;
    this.#memory.generation++; // interpreters drop cached region bounds
  }

  /** A copy of the bytes in `[start, end)`. */
  read(start: number, end: number): Uint8Array {
    return this.#memory.bytes.slice(start, end);
  }

  /** Returns the buffer to the allocator. Idempotent. */
  release(): void {
    if (this.#released) return;
    this.#released = true;
    this.region.start = this.bufferStart;
    this.region.end = this.bufferEnd;
    this.#memory.release(this.region);
  }
}
