/**
 * The rules the kernel adds for a loader without CAP_BPF / CAP_PERFMON / CAP_SYS_ADMIN
 * (kernel 6.18: verifier.c with env->bpf_capable, allow_ptr_leaks, allow_uninit_stack,
 * bypass_spec_v1 and bypass_spec_v4 all false; syscall.c bpf_prog_load and map_create;
 * net/core/filter.c and kernel/bpf/helpers.c for the helpers left without capabilities).
 * Each check is a no-op for a privileged loader (`env.privileged`); the verifier calls them
 * where the kernel makes the same check.
 *
 * Speculative paths (sanitize_speculative_path): the branch a known condition rules out is
 * walked too, marked speculative; an error there (EACCES, EPERM, EINVAL) ends that path with a
 * `nospec` barrier instead of rejecting (6.15+), but what the path records (the maps a tail call
 * sees, ALU masking states) counts. So is the path sanitize_ptr_alu pushes for a pointer moved
 * by a variable offset, with the offset masked to zero.
 */
import type { AluInstruction, Instruction } from '../isa/index.js';
import { MapType, ProgramType } from '../object/uapi-types.js';
import { BPF_MAX_VAR_OFF, type Env, reject } from './env.js';
import type { PruneOptions } from './prune.js';
import type { MapInfo, Reg } from './reg.js';
import { formatTnum, tnumIsConst } from './tnum.js';

/** kernel: MAX_BPF_STACK. */
const MAX_STACK = 512;

/** syscall.c bpf_prog_load: the program types a loader without CAP_BPF may load. */
const UNPRIV_PROG_TYPES: ReadonlySet<number> = new Set([ProgramType.SOCKET_FILTER, ProgramType.CGROUP_SKB]);

/** syscall.c map_create: the map types a loader without capabilities may create. */
const UNPRIV_MAP_TYPES: ReadonlySet<number> = new Set([
  MapType.ARRAY, MapType.PERCPU_ARRAY, MapType.PROG_ARRAY, MapType.PERF_EVENT_ARRAY, MapType.CGROUP_ARRAY,
  MapType.ARRAY_OF_MAPS, MapType.HASH, MapType.PERCPU_HASH, MapType.HASH_OF_MAPS, MapType.RINGBUF,
  MapType.USER_RINGBUF, MapType.CGROUP_STORAGE, MapType.PERCPU_CGROUP_STORAGE,
]);

/**
 * Helpers by id (include/uapi/linux/bpf.h numbering) that stay available without capabilities:
 * bpf_base_func_proto's first switch (before its bpf_token_capable(CAP_BPF) check) and
 * bpf_sk_base_func_proto's ktime_get_coarse_ns.
 */
const BASE_HELPERS: readonly number[] = [
  1, 2, 3, // map_lookup_elem, map_update_elem, map_delete_elem
  87, 88, 89, // map_push_elem, map_pop_elem, map_peek_elem
  195, // map_lookup_percpu_elem
  7, 8, 42, // get_prandom_u32, get_smp_processor_id, get_numa_node_id
  12, // tail_call
  5, 125, 208, // ktime_get_ns, ktime_get_boot_ns, ktime_get_tai_ns
  130, 131, 132, 133, 134, // ringbuf_output, ringbuf_reserve, ringbuf_submit, ringbuf_discard, ringbuf_query
  182, 105, 106, // strncmp, strtol, strtoul
  14, 120, 15, // get_current_pid_tgid, get_ns_current_pid_tgid, get_current_uid_gid
  160, // ktime_get_coarse_ns (bpf_sk_base_func_proto)
  // for_each_map_elem, loop, spin locks, timers, dynptrs, kptr_xchg, jiffies64 need CAP_BPF;
  // trace_printk, probe_read_*, get_current_task, skc_to_* casts need CAP_PERFMON.
];

/** filter.c sk_filter_func_proto: socket filters' own helpers. */
const SK_FILTER_HELPERS: readonly number[] = [
  26, 68, // skb_load_bytes, skb_load_bytes_relative
  46, 47, // get_socket_cookie, get_socket_uid
  25, // perf_event_output
];

/** filter.c cg_skb_func_proto: cgroup_skb programs' own helpers (then sk_filter_func_proto). */
const CG_SKB_HELPERS: readonly number[] = [
  81, 95, 107, 108, // get_local_storage, sk_fullsock, sk_storage_get, sk_storage_delete
  79, 83, 128, 129, // skb_cgroup_id, skb_ancestor_cgroup_id, sk_cgroup_id, sk_ancestor_cgroup_id
  84, 85, 86, 99, // sk_lookup_tcp, sk_lookup_udp, sk_release, skc_lookup_tcp
  96, 98, 97, // tcp_sock, get_listener_sock, skb_ecn_set_ce
];

const UNPRIV_HELPERS: ReadonlyMap<number, ReadonlySet<number>> = new Map([
  [ProgramType.SOCKET_FILTER, new Set([...BASE_HELPERS, ...SK_FILTER_HELPERS])],
  [ProgramType.CGROUP_SKB, new Set([...BASE_HELPERS, ...SK_FILTER_HELPERS, ...CG_SKB_HELPERS])],
]);

/**
 * What bpf_prog_load and bpf_check refuse before any path is walked: a program type other than
 * socket filter and cgroup_skb (EPERM), a map an unprivileged loader could not have created,
 * and (add_subprog_and_kfunc) any bpf-to-bpf call, callback address or kfunc call.
 */
export function checkUnprivProgram(env: Env): void {
  if (env.privileged) return;
  env.insnIdx = 0;
  if (!UNPRIV_PROG_TYPES.has(env.progType)) {
    reject(env, `program type ${env.progType} needs CAP_BPF (only socket filters and cgroup_skb load unprivileged): EPERM`);
  }
  env.slots.forEach((insn: Instruction | undefined, i) => {
    if (insn === undefined) return;
    env.insnIdx = i;
    const pseudoCall = insn.kind === 'call' && insn.target !== 'helper';
    const pseudoFunc = insn.kind === 'lddw' && insn.src === 4;
    if (pseudoCall || pseudoFunc) reject(env, 'loading/calling other bpf or kernel functions are allowed for CAP_BPF and CAP_SYS_ADMIN');
  });
  env.slots.forEach((insn, i) => {
    if (insn?.kind !== 'lddw' || (insn.src !== 1 && insn.src !== 2)) return;
    const map = env.mapOf(insn.imm);
    env.insnIdx = i;
    if (map !== undefined && !UNPRIV_MAP_TYPES.has(map.type)) {
      reject(env, `map type ${map.type} cannot be created without CAP_BPF (fd ${insn.imm})`);
    }
    // A value with a spin lock, timer or kptr is described by BTF, and loading BTF needs CAP_BPF.
    if (map !== undefined && (map.spinLockOff !== undefined || map.timerOff !== undefined || map.hasSpecialFields === true)) {
      reject(env, `a map with BTF-described fields cannot be created without CAP_BPF (fd ${insn.imm})`);
    }
  });
}

/** kernel: is_pointer_value — a pointer a program without allow_ptr_leaks must not turn into a number. */
export function isPointerValue(env: Env, reg: Reg): boolean {
  return !env.privileged && reg.type !== 'scalar' && reg.type !== 'not_init';
}

/** Rejects storing or passing a pointer where it becomes readable as a number: `R1 leaks addr into map`. */
export function checkLeak(env: Env, reg: Reg | undefined, regno: number, into: 'map' | 'mem' | 'ctx' | 'packet' | 'flow keys' | 'helper function'): void {
  if (reg !== undefined && isPointerValue(env, reg)) reject(env, `R${regno} leaks addr into ${into}`);
}

/** check_return_code: the program's return value must not be an address. */
export function checkReturnLeak(env: Env, r0: Reg): void {
  if (isPointerValue(env, r0)) reject(env, 'R0 leaks addr as return value');
}

/** The helpers bpf_base_func_proto and the program type's func_proto give a loader without capabilities. */
export function unprivHelperAllowed(env: Env, id: number): boolean {
  if (env.privileged) return true;
  return UNPRIV_HELPERS.get(env.progType)?.has(id) ?? false;
}

/** __sk_buff offsets of data, data_end and tstamp. */
const SKB_DATA = 76;
const SKB_DATA_END = 80;
const SKB_TSTAMP = 152;

/** filter.c cg_skb_is_valid_access: data, data_end (and writing tstamp) need CAP_BPF. */
export function unprivCtxAccessOk(env: Env, off: number, size: number, write: boolean): boolean {
  if (env.privileged || env.progType !== ProgramType.CGROUP_SKB) return true;
  const touches = (start: number, len: number): boolean => off < start + len && start < off + size;
  if (touches(SKB_DATA, 4) || touches(SKB_DATA_END, 4)) return false;
  if (write && touches(SKB_TSTAMP, 8)) return false;
  return true;
}

/** check_alu_op: a 32-bit move, sign extension, negation or byte swap of a pointer. */
export function checkPointerAluOp(env: Env, reg: Reg, regno: number, what: 'partial copy' | 'sign-extension' | 'arithmetic'): void {
  if (!isPointerValue(env, reg)) return;
  if (what === 'partial copy') reject(env, `R${regno} partial copy of pointer`);
  if (what === 'sign-extension') reject(env, `R${regno} sign-extension part of pointer`);
  reject(env, `R${regno} pointer arithmetic prohibited`);
}

/** kernel: bpf_insn_aux_data.alu_state / alu_limit, per instruction, kept across paths. */
interface AluSanitation { state: number; limit: bigint }
const aluAux = new WeakMap<Env, Map<number, AluSanitation>>();
/** kernel: env->explore_alu_limits — set once a pointer moved by a variable offset was sanitized. */
const exploreAluLimits = new WeakSet<Env>();

/** The pointer a sanitized variable-offset ALU instruction leaves in dst on its speculative path (sanitize_ptr_alu do_sim). */
const speculativeSim = new WeakMap<Env, Reg>();

/** Takes the pending do_sim pointer of the instruction just checked, if any. */
export function takeSpeculativeSim(env: Env): Reg | undefined {
  const r = speculativeSim.get(env);
  speculativeSim.delete(env);
  return r;
}

/** How pruning compares states for this loader (prune.ts). */
export function pruneOptions(env: Env): PruneOptions {
  if (env.privileged) return {};
  return { allowUninitStack: false, exactScalars: exploreAluLimits.has(env) };
}

const BPF_ALU_SANITIZE_SRC = 1;
const BPF_ALU_SANITIZE_DST = 2;
const BPF_ALU_NEG_VALUE = 4;
const BPF_ALU_IMMEDIATE = 8;

const REASON_BOUNDS = 'bounds';
const REASON_TYPE = 'type';
const REASON_PATHS = 'paths';
const REASON_LIMIT = 'limit';
type Reason = typeof REASON_BOUNDS | typeof REASON_TYPE | typeof REASON_PATHS | typeof REASON_LIMIT;

/** What the first half of sanitize_ptr_alu hands to the second (kernel: struct bpf_sanitize_info). */
export interface SanitizeInfo {
  readonly maskToLeft: boolean;
  readonly aluState: number;
  readonly aluLimit: bigint;
}

/** kernel: retrieve_ptr_limit. */
function ptrLimit(ptr: Reg, maskToLeft: boolean): bigint | Reason {
  let max: bigint;
  let limit: bigint;
  if (ptr.type === 'fp' && !ptr.maybeNull) {
    max = BigInt(MAX_STACK + (maskToLeft ? 1 : 0));
    limit = -(BigInt.asIntN(64, ptr.varOff.value) + BigInt(ptr.off));
  } else if (ptr.type === 'map_value' && !ptr.maybeNull) {
    max = BigInt(ptr.map?.valueSize ?? 0);
    limit = (maskToLeft ? ptr.smin : ptr.umax) + BigInt(ptr.off);
  } else {
    return REASON_TYPE;
  }
  if (limit >= max) return REASON_LIMIT;
  return limit;
}

/** kernel: sanitize_err. */
function sanitizeErr(env: Env, insn: AluInstruction, reason: Reason, offIsDst: boolean): never {
  const err = 'pointer arithmetic with it prohibited for !root';
  const op = insn.op === 'add' ? 'add' : 'sub';
  switch (reason) {
    case REASON_BOUNDS:
      reject(env, `R${offIsDst ? insn.dst : insn.src} has unknown scalar with mixed signed bounds, ${err}`);
    case REASON_TYPE:
      reject(env, `R${offIsDst ? insn.src : insn.dst} has pointer with unsupported alu operation, ${err}`);
    case REASON_PATHS:
      reject(env, `R${insn.dst} tried to ${op} from different maps, paths or scalars, ${err}`);
    case REASON_LIMIT:
      reject(env, `R${insn.dst} tried to ${op} beyond pointer bounds, ${err}`);
  }
}

/** Instructions a speculative path failed at (kernel: insn_aux_data.nospec), and whether the current path is speculative. */
const nospec = new WeakMap<Env, Set<number>>();
const speculative = new WeakSet<Env>();

/** The main loop tells which kind of path the next instruction is on. */
export function setSpeculative(env: Env, on: boolean): void {
  if (on) speculative.add(env);
  else speculative.delete(env);
}

/**
 * kernel: error_recoverable_with_nospec — whether a rejection on a speculative path only ends
 * it. Limits (program too large, too many jumps) stay errors; so does a mistake of this
 * verifier. Records the barrier and drops the instruction's masking state.
 */
export function nospecRecoverable(env: Env, message: string): boolean {
  if (/too large|too complex|not modelled/.test(message)) return false;
  let set = nospec.get(env);
  if (set === undefined) nospec.set(env, set = new Set());
  set.add(env.insnIdx);
  aluAux.get(env)?.delete(env.insnIdx);
  return true;
}

/** kernel: sanitize_needed and can_skip_alu_sanitation. */
function sanitizeNeeded(env: Env, insn: AluInstruction): boolean {
  return !env.privileged && insn.useReg && (insn.op === 'add' || insn.op === 'sub') && nospec.get(env)?.has(env.insnIdx) !== true;
}

/** The map each bpf_tail_call instruction was seen with, and the poisoned ones (kernel: record_func_map). */
const tailCallMaps = new WeakMap<Env, Map<number, MapInfo | 'poisoned'>>();

/**
 * Records the program array R2 holds at a bpf_tail_call (any path, speculative ones too). The
 * kernel masks the index (and so refuses two arrays at one call) only for maps made without
 * CAP_PERFMON (map->bypass_spec_v1 false): taken here to be the maps of an unprivileged loader.
 */
export function recordTailCallMap(env: Env, r2: Reg): void {
  if (env.privileged || r2.type !== 'map_ptr' || r2.map === undefined) return;
  let byInsn = tailCallMaps.get(env);
  if (byInsn === undefined) tailCallMaps.set(env, byInsn = new Map());
  const seen = byInsn.get(env.insnIdx);
  if (seen === undefined) byInsn.set(env.insnIdx, r2.map);
  else if (seen !== 'poisoned' && !sameMapInfo(seen, r2.map)) byInsn.set(env.insnIdx, 'poisoned');
}

function sameMapInfo(a: MapInfo, b: MapInfo): boolean {
  return a === b || (a.id !== undefined && a.id === b.id);
}

/** kernel: do_misc_fixups — a tail call that saw two program arrays cannot be patched. */
export function checkTailCallMaps(env: Env): void {
  for (const [idx, map] of tailCallMaps.get(env) ?? []) {
    env.insnIdx = idx;
    if (map === 'poisoned') reject(env, 'tail_call abusing map_ptr');
  }
}

/**
 * sanitize_ptr_alu before the operation (adjust_ptr_min_max_vals): the offset register must not
 * straddle zero, and the pointer must be a stack or map value pointer within its limit.
 * Returns what the commit half needs, or undefined when no sanitation applies.
 */
export function sanitizePtrAlu(env: Env, insn: AluInstruction, ptr: Reg, offReg: Reg, offIsDst: boolean): SanitizeInfo | undefined {
  // On a speculative path the kernel only simulates (goto do_sim): no checks, no masking state.
  if (!sanitizeNeeded(env, insn) || speculative.has(env)) return undefined;
  const offIsImm = tnumIsConst(offReg.varOff);
  const offIsNeg = offReg.smin < 0n;
  if (!offIsImm && (offReg.smin < 0n) !== (offReg.smax < 0n)) sanitizeErr(env, insn, REASON_BOUNDS, offIsDst);
  const maskToLeft = (insn.op === 'add' && offIsNeg) || (insn.op === 'sub' && !offIsNeg);
  const limit = ptrLimit(ptr, maskToLeft);
  if (typeof limit === 'string') sanitizeErr(env, insn, limit, offIsDst);
  if (!offIsImm) exploreAluLimits.add(env);
  const aluState = (offIsNeg ? BPF_ALU_NEG_VALUE : 0) | (offIsImm ? BPF_ALU_IMMEDIATE : 0)
    | (offIsDst ? BPF_ALU_SANITIZE_DST : BPF_ALU_SANITIZE_SRC);
  // do_sim: a variable offset may be masked to 0 under speculation; that path is walked too.
  if (!offIsImm) speculativeSim.set(env, ptr.clone());
  return { maskToLeft, aluState, aluLimit: limit };
}

/**
 * sanitize_check_bounds after the operation: an unprivileged stack pointer must stay constant
 * and inside the stack, a map value pointer inside the value.
 */
export function sanitizeCheckBounds(env: Env, regno: number, out: Reg): void {
  if (env.privileged || out.maybeNull) return;
  if (out.type === 'fp') {
    const off = Number(BigInt.asIntN(64, out.varOff.value)) + out.off;
    if (!tnumIsConst(out.varOff)) reject(env, `R${regno} variable stack access prohibited for !root, var_off=${formatTnum(out.varOff)} off=${out.off}`);
    if (off >= 0 || off < -MAX_STACK) reject(env, `R${regno} stack pointer arithmetic goes out of range, prohibited for !root; off=${off}`);
  } else if (out.type === 'map_value') {
    // check_map_access(regno, reg->off, 1, false, ACCESS_HELPER)
    const size = BigInt(out.map?.valueSize ?? 0);
    const off = BigInt(out.off);
    const outOfRange = (out.smin < 0n && (out.smin === -(1n << 63n) || off + out.smin !== BigInt.asIntN(32, off + out.smin) || out.smin + off < 0n))
      || off + out.smin < 0n || off + out.smin + 1n > size
      || out.umax >= BigInt(BPF_MAX_VAR_OFF) || off + out.umax + 1n > size;
    if (outOfRange) reject(env, `R${regno} pointer arithmetic of map value goes out of range, prohibited for !root`);
  }
}

const BPF_ALU_NON_POINTER = 16;

/** Records this instruction's masking state, failing when another path recorded a different one (update_alu_sanitation_state). */
function updateAluSanitation(env: Env, insn: AluInstruction, state: number, limit: bigint, offIsDst: boolean): void {
  let byInsn = aluAux.get(env);
  if (byInsn === undefined) aluAux.set(env, byInsn = new Map());
  const seen = byInsn.get(env.insnIdx);
  if (seen !== undefined && (seen.state !== state || seen.limit !== limit)) sanitizeErr(env, insn, REASON_PATHS, offIsDst);
  byInsn.set(env.insnIdx, { state, limit });
}

/** kernel: sanitize_val_alu — an add or sub of two scalars marks the instruction as not moving a pointer. */
export function sanitizeValAlu(env: Env, insn: AluInstruction): void {
  if (!sanitizeNeeded(env, insn)) return;
  updateAluSanitation(env, insn, BPF_ALU_NON_POINTER, 0n, false);
}

/**
 * sanitize_ptr_alu's commit half: the masking window this instruction needs on this path must
 * be the one it needed on every other path (else "tried to add from different maps, paths or
 * scalars").
 */
export function sanitizeCommit(env: Env, insn: AluInstruction, info: SanitizeInfo | undefined, out: Reg, offIsDst: boolean): void {
  if (info === undefined) return;
  const limit = ptrLimit(out, info.maskToLeft);
  if (typeof limit === 'string') sanitizeErr(env, insn, limit, offIsDst);
  const diff = info.aluLimit - limit;
  updateAluSanitation(env, insn, info.aluState, diff < 0n ? -diff : diff, offIsDst);
}
