/**
 * The socket helpers of sk_msg and sock_ops programs (src/vm/programs/sk-msg.ts,
 * sock-ops.ts) as one table: msg_redirect_map/hash, msg_apply_bytes, msg_cork_bytes,
 * msg_pull_data, sock_map_update, sock_hash_update, sock_ops_cb_flags_set, get_socket_cookie, and
 * those of sk_skb programs (sk_redirect_map/hash, skb_pull_data).
 */
import type { Helper } from '../helpers.js';
import type { MapRegistry } from '../maps/registry.js';
import { skMsgHelpers } from '../programs/sk-msg.js';
import { skSkbHelpers } from '../programs/sk-skb.js';
import { skbHelpers } from '../programs/skb-helpers.js';
import { sockOpsHelpers } from '../programs/sock-ops.js';

/** The socket helpers for the programs of `registry`'s memory, by helper id. */
export function socketHelpers(registry: MapRegistry): Map<number, Helper> {
  // bpf_skb_pull_data of sk_skb programs falls back to the TC/socket-filter one for their contexts.
  const skbPullData = (skbHelpers as ReadonlyMap<number, Helper>).get(39);
  return new Map([...skMsgHelpers(registry), ...sockOpsHelpers(registry), ...skSkbHelpers(registry, skbPullData)]);
}
