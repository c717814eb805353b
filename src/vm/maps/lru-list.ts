/**
 * The kernel's LRU for LRU_HASH and LRU_PERCPU_HASH (kernel/bpf/bpf_lru_list.c, Linux 6.18),
 * rebuilt step by step so that eviction picks the same elements: active and inactive lists
 * with a ref bit per node, an inactive-rotation cursor, and
 *
 * - the common LRU (default): one global list plus, per CPU, a local free stack and a
 *   pending list. A CPU takes free nodes from its stack; when empty it flushes its pending
 *   list into the global lists, rotates them and moves up to `target_free` nodes to its
 *   stack, shrinking (evicting) inactive, then any, nodes if the global free list runs dry;
 *   as a last resort it steals from other CPUs' stacks and pending lists, round-robin.
 * - the per-CPU LRU (BPF_F_NO_COMMON_LRU): an independent list per CPU, each holding
 *   max_entries / cpus nodes.
 *
 * Nodes are element slots 0..n-1; list heads are extra indices after them. Everything is
 * single-threaded here, so the kernel's lock-failure paths (`pending_free`) never happen.
 * What a CPU does depends on `cpu`, the registry's current CPU: the kernel runs each map
 * operation on the caller's CPU, which the VM models but a test against the kernel must pin.
 */

const ACTIVE = 0;
const INACTIVE = 1;
const FREE = 2;
const LOCAL_FREE = 3;
const LOCAL_PENDING = 4;

/** LOCAL_FREE_TARGET, LOCAL_NR_SCANS and PERCPU_FREE_TARGET/NR_SCANS of bpf_lru_list.c. */
const LOCAL_FREE_TARGET = 128;
const LOCAL_NR_SCANS = LOCAL_FREE_TARGET;
const PERCPU_FREE_TARGET = 4;
const PERCPU_NR_SCANS = PERCPU_FREE_TARGET;

/** One `struct bpf_lru_list`: three list heads, the active/inactive counts, the rotation cursor. */
interface LruList {
  readonly heads: readonly [active: number, inactive: number, free: number];
  readonly counts: [active: number, inactive: number];
  nextInactiveRotation: number;
}

/** One `struct bpf_lru_locallist` of the common LRU. */
interface LocalList {
  readonly pending: number;
  /** free_llist: a stack, top at the end. */
  readonly free: number[];
  nextSteal: number;
}

/** Removes a node from the hash table, or says it is not there (htab_lru_map_delete_node). */
export type DeleteFromTable = (node: number) => boolean;

/** One `struct bpf_lru` over `nodes` element slots; see the module comment. */
export class BpfLru {
  readonly percpu: boolean;
  readonly cpus: number;
  readonly targetFree: number;
  readonly nrScans: number;
  readonly #prev: Int32Array;
  readonly #next: Int32Array;
  readonly #type: Uint8Array;
  readonly #ref: Uint8Array;
  readonly #cpu: Uint16Array;
  readonly #lists: LruList[] = [];
  readonly #locals: LocalList[] = [];
  readonly #delete: DeleteFromTable;
  #heads: number;

  constructor(nodes: number, cpus: number, percpu: boolean, del: DeleteFromTable) {
    this.percpu = percpu;
    this.cpus = cpus;
    this.#delete = del;
    const headCount = percpu ? 3 * cpus : 3 + cpus;
    this.#prev = new Int32Array(nodes + headCount);
    this.#next = new Int32Array(nodes + headCount);
    this.#type = new Uint8Array(nodes);
    this.#ref = new Uint8Array(nodes);
    this.#cpu = new Uint16Array(nodes);
    this.#heads = nodes;
    const newList = (): LruList => ({ heads: [this.#newHead(), this.#newHead(), this.#newHead()], counts: [0, 0], nextInactiveRotation: 0 });
    if (percpu) {
      for (let cpu = 0; cpu < cpus; cpu++) this.#lists.push(newList());
      this.nrScans = PERCPU_NR_SCANS;
    } else {
      this.#lists.push(newList());
      for (let cpu = 0; cpu < cpus; cpu++) this.#locals.push({ pending: this.#newHead(), free: [], nextSteal: cpu });
      this.nrScans = LOCAL_NR_SCANS;
    }
    for (const l of this.#lists) l.nextInactiveRotation = l.heads[INACTIVE];
    // bpf_lru_populate: every node starts on a free list, added at the head.
    if (percpu) {
      const perCpu = Math.floor(nodes / cpus);
      let i = 0;
      for (let cpu = 0; cpu < cpus && i < nodes; cpu++) {
        const l = this.#lists[cpu]!;
        do {
          this.#cpu[i] = cpu;
          this.#type[i] = FREE;
          this.#add(i, l.heads[FREE]);
          i++;
        } while (i < nodes && i % perCpu !== 0);
      }
      this.targetFree = PERCPU_FREE_TARGET;
    } else {
      const l = this.#lists[0]!;
      for (let i = 0; i < nodes; i++) {
        this.#type[i] = FREE;
        this.#add(i, l.heads[FREE]);
      }
      this.targetFree = Math.min(Math.max(Math.floor(Math.floor(nodes / cpus) / 2), 1), LOCAL_FREE_TARGET);
    }
  }

  #newHead(): number {
    const h = this.#heads++;
    this.#prev[h] = this.#next[h] = h;
    return h;
  }

  // ---- list.h ----
  #add(node: number, head: number): void {
    const n = this.#next[head]!;
    this.#next[node] = n;
    this.#prev[node] = head;
    this.#prev[n] = node;
    this.#next[head] = node;
  }
  #del(node: number): void {
    const p = this.#prev[node]!, n = this.#next[node]!;
    this.#next[p] = n;
    this.#prev[n] = p;
  }
  #move(node: number, head: number): void {
    this.#del(node);
    this.#add(node, head);
  }
  #empty(head: number): boolean {
    return this.#next[head] === head;
  }

  /** bpf_lru_node_set_ref: a program's lookup marks the element as used. */
  setRef(node: number): void {
    this.#ref[node] = 1;
  }

  /** Whether the node's ref bit is set (for tests and debugging). */
  isRef(node: number): boolean {
    return this.#ref[node] === 1;
  }

  // ---- node moves ----

  #countDec(l: LruList, type: number): void {
    if (type < 2) l.counts[type as 0 | 1]--;
  }
  #countInc(l: LruList, type: number): void {
    if (type < 2) l.counts[type as 0 | 1]++;
  }

  /** __bpf_lru_node_move_to_free: `target` is a list head, or an array collecting nodes for a local free stack. */
  #moveToFree(l: LruList, node: number, target: number | number[], type: number): void {
    if (node === l.nextInactiveRotation) l.nextInactiveRotation = this.#prev[node]!;
    this.#countDec(l, this.#type[node]!);
    this.#type[node] = type;
    if (typeof target === 'number') this.#move(node, target);
    else {
      this.#del(node);
      target.push(node);
    }
  }

  /** __bpf_lru_node_move_in: from a local list into the LRU list. */
  #moveIn(l: LruList, node: number, type: number): void {
    this.#countInc(l, type);
    this.#type[node] = type;
    this.#ref[node] = 0;
    this.#move(node, l.heads[type as 0 | 1 | 2]);
  }

  /** __bpf_lru_node_move: between or within the active and inactive lists (or to free). */
  #nodeMove(l: LruList, node: number, type: number): void {
    const from = this.#type[node]!;
    if (from !== type) {
      this.#countDec(l, from);
      this.#countInc(l, type);
      this.#type[node] = type;
    }
    this.#ref[node] = 0;
    if (node === l.nextInactiveRotation) l.nextInactiveRotation = this.#prev[node]!;
    this.#move(node, l.heads[type as 0 | 1 | 2]);
  }

  // ---- rotation and shrinking ----

  #rotateActive(l: LruList): void {
    const active = l.heads[ACTIVE];
    const first = this.#next[active]!;
    let i = 0;
    for (let node = this.#prev[active]!; node !== active;) {
      const tmp = this.#prev[node]!;
      this.#nodeMove(l, node, this.#ref[node] ? ACTIVE : INACTIVE);
      if (++i === this.nrScans || node === first) break;
      node = tmp;
    }
  }

  #rotateInactive(l: LruList): void {
    const inactive = l.heads[INACTIVE];
    if (this.#empty(inactive)) return;
    let last = this.#next[l.nextInactiveRotation]!;
    if (last === inactive) last = this.#next[last]!;
    let cur = l.nextInactiveRotation;
    let next = inactive;
    let i = 0;
    while (i < this.nrScans) {
      if (cur === inactive) {
        cur = this.#prev[cur]!;
        continue;
      }
      next = this.#prev[cur]!;
      if (this.#ref[cur]) this.#nodeMove(l, cur, ACTIVE);
      if (cur === last) break;
      cur = next;
      i++;
    }
    l.nextInactiveRotation = next;
  }

  #rotate(l: LruList): void {
    if (l.counts[INACTIVE] < l.counts[ACTIVE]) this.#rotateActive(l);
    this.#rotateInactive(l);
  }

  #shrinkInactive(l: LruList, want: number, target: number | number[], type: number): number {
    const inactive = l.heads[INACTIVE];
    let done = 0;
    let i = 0;
    for (let node = this.#prev[inactive]!; node !== inactive;) {
      const tmp = this.#prev[node]!;
      if (this.#ref[node]) {
        this.#nodeMove(l, node, ACTIVE);
      } else if (this.#delete(node)) {
        this.#moveToFree(l, node, target, type);
        if (++done === want) break;
      }
      if (++i === this.nrScans) break;
      node = tmp;
    }
    return done;
  }

  /** __bpf_lru_list_shrink: evicts unreferenced inactive nodes, else any one node, inactive first. */
  #shrink(l: LruList, want: number, target: number | number[], type: number): number {
    const done = this.#shrinkInactive(l, want, target, type);
    if (done) return done;
    const list = this.#empty(l.heads[INACTIVE]) ? l.heads[ACTIVE] : l.heads[INACTIVE];
    for (let node = this.#prev[list]!; node !== list;) {
      const tmp = this.#prev[node]!;
      if (this.#delete(node)) {
        this.#moveToFree(l, node, target, type);
        return 1;
      }
      node = tmp;
    }
    return 0;
  }

  // ---- the common LRU's local lists ----

  #flush(l: LruList, loc: LocalList): void {
    for (let node = this.#prev[loc.pending]!; node !== loc.pending;) {
      const tmp = this.#prev[node]!;
      this.#moveIn(l, node, this.#ref[node] ? ACTIVE : INACTIVE);
      node = tmp;
    }
  }

  #popFreeToLocal(loc: LocalList): void {
    const l = this.#lists[0]!;
    this.#flush(l, loc);
    this.#rotate(l);
    const moved: number[] = [];
    const free = l.heads[FREE];
    for (let node = this.#next[free]!; node !== free;) {
      const tmp = this.#next[node]!;
      this.#moveToFree(l, node, moved, LOCAL_FREE);
      if (moved.length === this.targetFree) break;
      node = tmp;
    }
    if (moved.length < this.targetFree) this.#shrink(l, this.targetFree - moved.length, moved, LOCAL_FREE);
    // The kernel gathers them on a list (each added at its head), then pushes that list
    // front to back onto the llist: the first node gathered ends up on top.
    for (let i = moved.length - 1; i >= 0; i--) loc.free.push(moved[i]!);
  }

  #addPending(loc: LocalList, cpu: number, node: number): void {
    this.#cpu[node] = cpu;
    this.#type[node] = LOCAL_PENDING;
    this.#ref[node] = 0;
    this.#add(node, loc.pending);
  }

  #popPending(loc: LocalList): number {
    for (const force of [false, true]) {
      for (let node = this.#prev[loc.pending]!; node !== loc.pending; node = this.#prev[node]!) {
        if ((!this.#ref[node] || force) && this.#delete(node)) {
          this.#del(node);
          return node;
        }
      }
    }
    return -1;
  }

  // ---- the API hashtab.c uses ----

  /** bpf_lru_pop_free: a free node for a new element on `cpu` (evicting if needed), or -1. */
  popFree(cpu: number): number {
    return this.percpu ? this.#percpuPopFree(cpu) : this.#commonPopFree(cpu);
  }

  #percpuPopFree(cpu: number): number {
    const l = this.#lists[cpu]!;
    this.#rotate(l);
    const free = l.heads[FREE];
    if (this.#empty(free)) this.#shrink(l, PERCPU_FREE_TARGET, free, FREE);
    if (this.#empty(free)) return -1;
    const node = this.#next[free]!;
    this.#ref[node] = 0;
    this.#nodeMove(l, node, INACTIVE);
    return node;
  }

  #commonPopFree(cpu: number): number {
    const loc = this.#locals[cpu]!;
    let node = loc.free.pop();
    if (node === undefined) {
      this.#popFreeToLocal(loc);
      node = loc.free.pop();
    }
    if (node !== undefined) {
      this.#addPending(loc, cpu, node);
      return node;
    }
    // Nothing free anywhere: steal from the CPUs' local lists, round-robin from next_steal.
    const first = loc.nextSteal;
    let steal = first;
    let found = -1;
    do {
      const victim = this.#locals[steal]!;
      found = victim.free.pop() ?? this.#popPending(victim);
      steal = (steal + 1) % this.cpus;
    } while (found < 0 && steal !== first);
    loc.nextSteal = steal;
    if (found < 0) return -1;
    this.#addPending(loc, cpu, found);
    return found;
  }

  /** bpf_lru_push_free: the node's element was deleted or replaced (or never linked). */
  pushFree(node: number): void {
    if (this.percpu) {
      this.#nodeMove(this.#lists[this.#cpu[node]!]!, node, FREE);
      return;
    }
    const type = this.#type[node]!;
    if (type === FREE || type === LOCAL_FREE) return; // the kernel WARNs and ignores it
    if (type === LOCAL_PENDING) {
      this.#type[node] = LOCAL_FREE;
      this.#ref[node] = 0;
      this.#del(node);
      this.#locals[this.#cpu[node]!]!.free.push(node);
      return;
    }
    this.#nodeMove(this.#lists[0]!, node, FREE);
  }
}
