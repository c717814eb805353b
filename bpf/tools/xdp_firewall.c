/* xdp_firewall: drops IPv4 packets whose source address falls in a prefix of the `rules`
 * LPM trie, counting packets and bytes per rule in the rule's value. The maps are pinned by
 * name, so other processes edit the rules and read the counters while the program runs. */
#include "tools.h"

/* An LPM trie key: the prefix length in bits, then the address in network byte order. */
struct rule_key {
	__u32 prefixlen;
	__u8 addr[4];
};

struct rule_stats {
	__u64 packets;
	__u64 bytes;
};

/* Everything the program saw, by verdict: [0] passed, [1] dropped. */
struct totals {
	__u64 packets;
	__u64 bytes;
};

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, 4096);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct rule_key);
	__type(value, struct rule_stats);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} rules SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 2);
	__type(key, __u32);
	__type(value, struct totals);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} totals SEC(".maps");

static __always_inline int verdict(int action, __u64 bytes)
{
	__u32 slot = action == XDP_DROP;
	struct totals *t = bpf_map_lookup_elem(&totals, &slot);

	if (t) {
		t->packets++;
		t->bytes += bytes;
	}
	return action;
}

SEC("xdp")
int xdp_firewall(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	__u64 bytes = data_end - data;
	struct ethhdr *eth = data;
	struct iphdr *ip;
	struct rule_key key = { .prefixlen = 32 };
	struct rule_stats *rule;

	if ((void *)(eth + 1) > data_end || eth->h_proto != bpf_htons(ETH_P_IP))
		return verdict(XDP_PASS, bytes);
	ip = (void *)(eth + 1);
	if ((void *)(ip + 1) > data_end)
		return verdict(XDP_PASS, bytes);
	__builtin_memcpy(key.addr, &ip->saddr, sizeof(key.addr));
	rule = bpf_map_lookup_elem(&rules, &key);
	if (!rule)
		return verdict(XDP_PASS, bytes);
	__sync_fetch_and_add(&rule->packets, 1);
	__sync_fetch_and_add(&rule->bytes, bytes);
	return verdict(XDP_DROP, bytes);
}

char LICENSE[] SEC("license") = "GPL";
