/* A map pinned by name (libbpf: at <pin root>/shared_counts) next to an unpinned one.
 * Tests load it only with a scratch pin root: libbpf's default is the real /sys/fs/bpf. The
 * program reads no context field, so it has no CO-RE relocations (the CO-RE tests, which
 * load every object with such relocations, leave it alone). */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 64);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
	__type(key, __u32);
	__type(value, __u64);
} shared_counts SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__uint(pinning, LIBBPF_PIN_NONE);
	__type(key, __u32);
	__type(value, __u64);
} private_count SEC(".maps");

SEC("tc")
int count_tc(struct __sk_buff *skb)
{
	__u32 k = 1;
	__u64 one = 1, *v = bpf_map_lookup_elem(&shared_counts, &k);

	if (v)
		__sync_fetch_and_add(v, 1);
	else
		bpf_map_update_elem(&shared_counts, &k, &one, BPF_NOEXIST);
	k = 0;
	v = bpf_map_lookup_elem(&private_count, &k);
	if (v)
		*v += 1;
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
