/**
 * Global (non-static) functions: the kernel verifies each one once, on its own, with its
 * arguments typed from the program's BTF, and checks every call against that signature
 * instead of following the call (kernel: btf.c btf_prepare_func_args, btf_check_func_arg_match;
 * verifier.c check_func_call for global functions, do_check_subprogs, do_check_common).
 */
import type { Btf } from '../btf/index.js';
import { ProgramType } from '../object/uapi-types.js';
import type { FuncInfo } from './verifier.js';

/** How a global function's argument is typed (kernel: bpf_subprog_arg_info). */
export type GlobalParam =
  /** An integer or enum: any scalar (ARG_ANYTHING). */
  | { readonly kind: 'scalar' }
  /** A pointer to the program's context type (ARG_PTR_TO_CTX). */
  | { readonly kind: 'ctx' }
  /** A pointer to `size` bytes of memory the function may read and write, or NULL (ARG_PTR_TO_MEM | PTR_MAYBE_NULL). */
  | { readonly kind: 'mem'; readonly size: number };

/** What {@link describeGlobalFunc} tells of a global function's prototype. */
export interface GlobalSignature {
  readonly params?: readonly GlobalParam[];
  /** Why the kernel refuses calls to it (btf_prepare_func_args), or why it is not modelled here. */
  readonly globalError?: string;
}

/** kernel: the prog_ctx_type of each program type (include/linux/bpf_types.h), as BTF struct names. */
const CTX_STRUCT: ReadonlyMap<number, string> = new Map([
  [ProgramType.SOCKET_FILTER, '__sk_buff'], [ProgramType.SCHED_CLS, '__sk_buff'], [ProgramType.SCHED_ACT, '__sk_buff'],
  [ProgramType.XDP, 'xdp_md'], [ProgramType.CGROUP_SKB, '__sk_buff'], [ProgramType.CGROUP_SOCK, 'bpf_sock'],
  [ProgramType.CGROUP_SOCK_ADDR, 'bpf_sock_addr'], [ProgramType.LWT_IN, '__sk_buff'], [ProgramType.LWT_OUT, '__sk_buff'],
  [ProgramType.LWT_XMIT, '__sk_buff'], [ProgramType.SOCK_OPS, 'bpf_sock_ops'], [ProgramType.SK_SKB, '__sk_buff'],
  [ProgramType.SK_MSG, 'sk_msg_md'], [ProgramType.FLOW_DISSECTOR, '__sk_buff'], [ProgramType.PERF_EVENT, 'bpf_perf_event_data'],
  [ProgramType.RAW_TRACEPOINT, 'bpf_raw_tracepoint_args'], [ProgramType.RAW_TRACEPOINT_WRITABLE, 'bpf_raw_tracepoint_args'],
  [ProgramType.CGROUP_DEVICE, 'bpf_cgroup_dev_ctx'], [ProgramType.CGROUP_SYSCTL, 'bpf_sysctl'],
  [ProgramType.CGROUP_SOCKOPT, 'bpf_sockopt'], [ProgramType.SK_REUSEPORT, 'sk_reuseport_md'],
  [ProgramType.SK_LOOKUP, 'bpf_sk_lookup'], [ProgramType.NETFILTER, 'bpf_nf_ctx'],
]);

/**
 * The signature of the global function whose BTF FUNC is `typeId` in `btf`, for a program of
 * `progType` (kernel: btf_prepare_func_args without `arg:` decl tags, which are not modelled).
 */
export function describeGlobalFunc(btf: Btf, typeId: number, progType: number): GlobalSignature {
  const fn = btf.type(typeId);
  if (fn.kind !== 'func') return { globalError: `BTF of func doesn't point to KIND_FUNC` };
  const proto = btf.type(fn.type);
  if (proto.kind !== 'func_proto') return { globalError: `Invalid type of function ${fn.name}()` };
  if (proto.params.length > 5) return { globalError: `Global function ${fn.name}() with ${proto.params.length} > 5 args. Buggy compiler.` };
  const ret = btf.type(btf.resolve(proto.returnType));
  if (proto.returnType === 0 || (ret.kind !== 'int' && ret.kind !== 'enum' && ret.kind !== 'enum64')) {
    return { globalError: `Global function ${fn.name}() doesn't return scalar. Only those are supported.` };
  }
  for (let id = 1; id < btf.length; id++) {
    const t = btf.has(id) ? btf.type(id) : undefined;
    if (t?.kind === 'decl_tag' && t.type === typeId && t.componentIdx >= 0) {
      return { globalError: `argument tags (${t.name}) of global function ${fn.name}() are not modelled by this verifier` };
    }
  }
  const params: GlobalParam[] = [];
  for (const [i, p] of proto.params.entries()) {
    if (p.type === 0) return { globalError: `Arg#${i} type vararg in ${fn.name}() is not supported yet.` };
    const t = btf.type(btf.skipModifiers(p.type));
    if (t.kind === 'ptr') {
      if (isCtxPointer(btf, t.type, progType)) { params.push({ kind: 'ctx' }); continue; }
      let size: number;
      try {
        const target = btf.type(btf.resolve(t.type));
        if (target.kind === 'void' || target.kind === 'fwd' || target.kind === 'func_proto' || target.kind === 'func') throw new Error(target.kind);
        size = btf.sizeof(t.type);
      } catch {
        return { globalError: `arg#${i} reference type size cannot be determined` };
      }
      params.push({ kind: 'mem', size });
      continue;
    }
    const r = btf.type(btf.resolve(p.type));
    if (r.kind === 'int' || r.kind === 'enum' || r.kind === 'enum64') { params.push({ kind: 'scalar' }); continue; }
    return { globalError: `Arg#${i} type ${r.kind.toUpperCase()} in ${fn.name}() is not supported yet.` };
  }
  return { params };
}

/** kernel: btf_is_prog_ctx_type: a pointer to the struct (by name) the program type's context is. */
function isCtxPointer(btf: Btf, target: number, progType: number): boolean {
  let id = btf.skipModifiers(target);
  if (progType === ProgramType.KPROBE) {
    const t = btf.type(id);
    if (t.kind === 'typedef' && t.name === 'bpf_user_pt_regs_t') return true;
  }
  id = btf.resolve(id);
  const t = btf.type(id);
  if (t.kind !== 'struct') return false;
  const want = progType === ProgramType.KPROBE ? 'pt_regs' : CTX_STRUCT.get(progType);
  return want !== undefined && t.name === want;
}

/**
 * The verifier's func_info from a program's BTF and its func_info records (`insn`: the
 * function's first slot, `typeId`: its BTF FUNC): linkage, whether it returns a scalar, and for
 * global functions their signature (kernel: check_btf_func, btf_prepare_func_args).
 */
export function funcInfoFromBtf(btf: Btf, records: readonly { readonly insn: number; readonly typeId: number }[], progType: number): FuncInfo[] {
  return records.map(({ insn, typeId }) => {
    const fn = btf.type(typeId);
    if (fn.kind !== 'func') throw new Error(`func_info type ${typeId} is not a FUNC`);
    const proto = btf.type(fn.type);
    if (proto.kind !== 'func_proto') throw new Error(`FUNC ${fn.name} does not name a FUNC_PROTO`);
    const ret = btf.type(btf.resolve(proto.returnType));
    const scalarReturn = proto.returnType !== 0 && ((ret.kind === 'int' && ret.size <= 8) || ret.kind === 'enum' || ret.kind === 'enum64');
    return { insn, linkage: fn.linkage, scalarReturn, name: fn.name, ...(fn.linkage === 1 ? describeGlobalFunc(btf, typeId, progType) : {}) };
  });
}
