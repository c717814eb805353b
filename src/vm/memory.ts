/**
 * The VM's address space: one growable linear memory (a `WebAssembly.Memory`, so the JIT
 * that follows the interpreter can share it) holding regions — stacks, contexts, packets,
 * map values — at fixed offsets. A pointer in a register is an offset into this memory; an
 * access is valid only when it lies wholly inside one region with the right permission.
 */

/** What a region holds; used in fault messages and by the verifier later. */
export type RegionKind = 'stack' | 'context' | 'packet' | 'map_value' | 'map_key' | 'map' | 'ringbuf' | 'code' | 'memory';

/** A live region of linear memory. `start`/`end` are byte offsets (end exclusive). */
export interface Region {
  readonly id: number;
  readonly kind: RegionKind;
  readonly name: string;
  start: number;
  end: number;
  readonly writable: boolean;
}

export interface RegionOptions {
  kind?: RegionKind;
  name?: string;
  /** Default true. */
  writable?: boolean;
  /** Bytes to copy in; the region is zeroed otherwise. */
  init?: Uint8Array;
  /** Alignment of `start` (power of two, default 8). */
  align?: number;
}

const PAGE = 65536;
/** Offsets below this are never allocated, so NULL plus a small offset always faults. */
const FIRST_ADDRESS = 0x1000;

/** Linear memory with a region table and a first-fit allocator over an address-ordered, coalescing free list. */
export class Memory {
  readonly wasm: WebAssembly.Memory;
  /** Views of the current buffer; replaced when memory grows (see `generation`). */
  bytes: Uint8Array;
  view: DataView;
  /** Incremented on every growth and every region change, so callers can drop cached views/regions. */
  generation = 0;

  private readonly regions: Array<Region & Placed> = [];
  private readonly free: Array<{ start: number; end: number }> = [];
  private top = FIRST_ADDRESS;
  private nextId = 1;

  constructor(initialBytes = PAGE) {
    this.wasm = new WebAssembly.Memory({ initial: Math.max(1, Math.ceil(initialBytes / PAGE)), maximum: 65536 });
    this.bytes = new Uint8Array(this.wasm.buffer);
    this.view = new DataView(this.wasm.buffer);
  }

  /** Allocates a zeroed (or initialised) region of `size` bytes. */
  alloc(size: number, options: RegionOptions = {}): Region {
    if (!Number.isInteger(size) || size < 0) throw new RangeError(`region size ${size} is not a non-negative integer`);
    const align = options.align ?? 8;
    const start = this.place(Math.max(size, 1), align);
    const region: Region & Placed = {
      base: start,
      span: Math.max(size, 1),
      id: this.nextId++,
      kind: options.kind ?? 'memory',
      name: options.name ?? options.kind ?? 'memory',
      start,
      end: start + size,
      writable: options.writable ?? true,
    };
    this.bytes.fill(0, start, start + Math.max(size, 1));
    if (options.init) this.bytes.set(options.init.subarray(0, size), start);
    // Keep the table sorted by address for find(); allocation is rare next to lookups.
    let at = this.regions.length;
    while (at > 0 && this.regions[at - 1]!.base > start) at--;
    this.regions.splice(at, 0, region);
    this.generation++;
    return region;
  }

  /**
   * Allocates regions laid out back to back, the first aligned to `options.align` — one object
   * whose parts differ in permission, like a program context with read-only and writable
   * fields. An access that spans two parts faults, as it would cross two fields. `guard` bytes
   * after the last part are reserved but belong to no region, so a small overrun faults rather
   * than landing in whatever was allocated next.
   */
  allocAdjacent(parts: ReadonlyArray<{ size: number; writable: boolean; name?: string }>, options: Omit<RegionOptions, 'writable'> & { guard?: number } = {}): Region[] {
    const guard = options.guard ?? 0;
    const total = parts.reduce((n, p) => n + p.size, 0);
    if (parts.length === 0 || parts.some((p) => !Number.isInteger(p.size) || p.size <= 0)) throw new RangeError('an adjacent allocation needs parts of positive size');
    let start = this.place(total + guard, options.align ?? 8);
    this.bytes.fill(0, start, start + total + guard);
    if (options.init) this.bytes.set(options.init.subarray(0, total), start);
    const regions = parts.map((p, i) => {
      const region: Region & Placed = {
        base: start, span: p.size + (i === parts.length - 1 ? guard : 0), id: this.nextId++, kind: options.kind ?? 'memory',
        name: p.name ?? options.name ?? options.kind ?? 'memory', start, end: start + p.size, writable: p.writable,
      };
      start += p.size;
      return region;
    });
    // Keep the table sorted by address (the parts are in address order).
    let at = this.regions.length;
    while (at > 0 && this.regions[at - 1]!.base > regions[0]!.base) at--;
    this.regions.splice(at, 0, ...regions);
    this.generation++;
    return regions;
  }

  /** Returns a region's bytes to the allocator; later accesses to it fault. */
  release(region: Region): void {
    const i = this.indexOf(region as Region & Placed);
    if (i < 0) return;
    const placed = this.regions[i]!;
    this.regions.splice(i, 1);
    this.addFree(placed.base, placed.base + placed.span);
    this.generation++;
  }

  /** Bytes in free blocks below the allocation top (for tests of the allocator). */
  get freeBytes(): number {
    return this.free.reduce((n, f) => n + f.end - f.start, 0);
  }

  /** Index of `region` in the (address-sorted) table, or -1: a binary search by its placement. */
  private indexOf(region: Region & Placed): number {
    const rs = this.regions;
    let lo = 0, hi = rs.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      const r = rs[mid]!;
      if (r.base < region.base) lo = mid + 1;
      else if (r.base > region.base) hi = mid - 1;
      else {
        // Adjacent parts of one allocation share no base; equal bases are one region (or a zero-span neighbour).
        for (let j = mid; j >= 0 && rs[j]!.base === region.base; j--) if (rs[j] === region) return j;
        for (let j = mid + 1; j < rs.length && rs[j]!.base === region.base; j++) if (rs[j] === region) return j;
        return -1;
      }
    }
    return -1;
  }

  /**
   * Adds `[start, end)` to the free list, kept sorted by address, merging it with the blocks
   * it touches; a block reaching the top of the allocated space lowers the top instead. So
   * memory freed and allocated over and over (a context per run) is found again at once.
   */
  private addFree(start: number, end: number): void {
    const free = this.free;
    let lo = 0, hi = free.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (free[mid]!.start < start) lo = mid + 1;
      else hi = mid;
    }
    const prev = lo > 0 ? free[lo - 1] : undefined;
    const next = free[lo];
    if (prev !== undefined && prev.end === start) {
      prev.end = end;
      if (next !== undefined && next.start === end) {
        prev.end = next.end;
        free.splice(lo, 1);
      }
    } else if (next !== undefined && next.start === end) {
      next.start = start;
    } else {
      free.splice(lo, 0, { start, end });
    }
    const last = free[free.length - 1];
    if (last !== undefined && last.end === this.top) {
      this.top = last.start;
      free.pop();
    }
  }

  /** The region wholly containing `[address, address + size)`, or undefined. */
  find(address: number, size: number): Region | undefined {
    const r = this.near(address);
    return r !== undefined && address + size <= r.end ? r : undefined;
  }

  /** The region whose bytes include `address`, for fault messages. */
  near(address: number): Region | undefined {
    // Regions are disjoint and kept sorted by their (allocation) start: binary search.
    const rs = this.regions;
    let lo = 0, hi = rs.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      const r = rs[mid]!;
      if (address < r.base) hi = mid - 1;
      else if (address >= r.base + r.span) lo = mid + 1;
      else return address >= r.start && address < r.end ? r : undefined;
    }
    return undefined;
  }

  /** A view of a region's bytes (valid until memory grows). */
  slice(region: Region): Uint8Array {
    return this.bytes.subarray(region.start, region.end);
  }

  private place(size: number, align: number): number {
    for (let i = 0; i < this.free.length; i++) {
      const f = this.free[i]!;
      const start = alignUp(f.start, align);
      if (start + size <= f.end) {
        if (start + size === f.end && start === f.start) this.free.splice(i, 1);
        else if (start === f.start) f.start = start + size;
        else {
          // Keep both the alignment gap and the tail as free space (the tail right after the gap, in order).
          const tail = { start: start + size, end: f.end };
          f.end = start;
          if (tail.start < tail.end) this.free.splice(i + 1, 0, tail);
        }
        return start;
      }
    }
    const start = alignUp(this.top, align);
    this.ensure(start + size); // may throw (memory exhausted): leave `top` as it was
    const gap = this.top;
    this.top = start + size;
    // The alignment gap is free space too, so freed neighbours can merge across it.
    if (start > gap) this.addFree(gap, start);
    return start;
  }

  private ensure(bytes: number): void {
    const have = this.wasm.buffer.byteLength;
    if (bytes <= have) return;
    this.wasm.grow(Math.ceil((bytes - have) / PAGE));
    this.bytes = new Uint8Array(this.wasm.buffer);
    this.view = new DataView(this.wasm.buffer);
    this.generation++;
  }
}

/**
 * Where a region was placed. A region's `start` may move inside its placement (the stack
 * grows and shrinks with the call depth), so lookups and release use the placement.
 */
interface Placed {
  readonly base: number;
  readonly span: number;
}

function alignUp(n: number, align: number): number {
  return Math.ceil(n / align) * align;
}
