/**
 * Linux helper ids (`enum bpf_func_id`, include/uapi/linux/bpf.h) of the helpers the VM
 * implements, by their kernel names without the `BPF_FUNC_` prefix.
 */
export const HelperId = {
  map_lookup_elem: 1,
  map_update_elem: 2,
  map_delete_elem: 3,
  perf_event_output: 25,
  map_push_elem: 87,
  map_pop_elem: 88,
  map_peek_elem: 89,
  ringbuf_output: 130,
  ringbuf_reserve: 131,
  ringbuf_submit: 132,
  ringbuf_discard: 133,
  ringbuf_query: 134,
  map_lookup_percpu_elem: 195,
} as const;
export type HelperId = (typeof HelperId)[keyof typeof HelperId];
