/**
 * The helpers that move an XDP packet's edges, bound to the {@link XdpContext} their r1 names
 * (ids from include/uapi/linux/bpf.h): bpf_xdp_adjust_head (44), bpf_xdp_adjust_meta (54),
 * bpf_xdp_adjust_tail (65) and bpf_xdp_get_buff_len (188).
 */
import type { HelperContext, HelperTable } from '../helpers.js';
import { clearXdpMapRedirect } from '../helpers/redirect-map.js';
import { BPF_FUNC_redirect, recordRedirect } from './skb-helpers.js';
import { XdpAction } from './verdicts.js';
import { XdpContext } from './xdp.js';

export const BPF_FUNC_xdp_adjust_head = 44;
export const BPF_FUNC_xdp_adjust_meta = 54;
export const BPF_FUNC_xdp_adjust_tail = 65;
export const BPF_FUNC_xdp_get_buff_len = 188;

const EINVAL = 22;

function context(h: HelperContext): XdpContext | undefined {
  return XdpContext.at(h.memory, h.argNumber(1));
}

/** The `int offset` argument (r2, signed 32-bit). */
const offset = (h: HelperContext): number => h.argU32(2) | 0;

/** XDP packet helpers; add them to an interpreter's helper table for XDP programs. */
export const xdpHelpers: HelperTable = new Map([
  [BPF_FUNC_xdp_adjust_head, (h: HelperContext) => context(h)?.adjustHead(offset(h)) ?? -EINVAL],
  [BPF_FUNC_xdp_adjust_meta, (h: HelperContext) => context(h)?.adjustMeta(offset(h)) ?? -EINVAL],
  [BPF_FUNC_xdp_adjust_tail, (h: HelperContext) => context(h)?.adjustTail(offset(h)) ?? -EINVAL],
  [BPF_FUNC_xdp_get_buff_len, (h: HelperContext) => context(h)?.length ?? 0],
  [BPF_FUNC_redirect, xdpRedirect],
]);

/**
 * bpf_redirect in an XDP program (kernel: bpf_xdp_redirect, not the sk_buff one): flags must
 * be 0, else XDP_ABORTED; the target replaces any bpf_redirect_map of the run; XDP_REDIRECT.
 */
function xdpRedirect(h: HelperContext): number {
  if (h.arg(2) !== 0n) return XdpAction.ABORTED;
  clearXdpMapRedirect(h.memory);
  recordRedirect(h.memory, h.argU32(1), 0);
  return XdpAction.REDIRECT;
}

/** The helpers whose XDP version differs from the one other program types get under the same id. */
export const xdpOnlyHelpers: HelperTable = new Map([[BPF_FUNC_redirect, xdpRedirect]]);
