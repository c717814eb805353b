// An XDP firewall: drops IPv4 packets whose source address is in the LPM trie `blocked` or in a
// small default list (`.data`, checked in a bounded loop, so the example blocks something the
// moment it loads); counts packets per verdict in the array `verdicts` and drops per source in
// the hash `drops`. Self-contained (no headers): it runs in the kernel and in the VM, e.g.
//   npx ebpf run examples/xdp_firewall.o --pcap examples/traffic.pcap
// Build: npm run build:bpf (clang-19 -O2 -g -target bpf -mcpu=v3).

typedef unsigned char __u8;
typedef unsigned short __u16;
typedef unsigned int __u32;
typedef unsigned long long __u64;

#define SEC(name) __attribute__((section(name), used))
#define __uint(name, val) int (*name)[val]
#define __type(name, val) typeof(val) *name

enum { BPF_MAP_TYPE_HASH = 1, BPF_MAP_TYPE_ARRAY = 2, BPF_MAP_TYPE_LPM_TRIE = 11 };
enum { BPF_F_NO_PREALLOC = 1 };
enum { XDP_ABORTED = 0, XDP_DROP = 1, XDP_PASS = 2, XDP_TX = 3, XDP_REDIRECT = 4 };

struct xdp_md {
	__u32 data;
	__u32 data_end;
	__u32 data_meta;
	__u32 ingress_ifindex;
	__u32 rx_queue_index;
	__u32 egress_ifindex;
};

static void *(*bpf_map_lookup_elem)(void *map, const void *key) = (void *)1;
static long (*bpf_map_update_elem)(void *map, const void *key, const void *value, __u64 flags) = (void *)2;

struct lpm_v4_key {
	__u32 prefixlen;
	__u32 addr; /* network byte order */
};

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, 1024);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct lpm_v4_key);
	__type(value, __u32);
} blocked SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 5);
	__type(key, __u32);
	__type(value, __u64);
} verdicts SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 256);
	__type(key, __u32);
	__type(value, __u64);
} drops SEC(".maps");

#define MAX_DEFAULT 8
/* Blocked sources (network byte order) and how many of them are in use. */
volatile __u32 default_blocked[MAX_DEFAULT] = {
	0x4200000a, /* 10.0.0.66 */
	0x250da8c0, /* 192.168.13.37 */
	0x0a6433c6, /* 198.51.100.10 */
};
const volatile __u32 default_count = 3;

static __u32 verdict(__u32 action)
{
	__u64 *count = bpf_map_lookup_elem(&verdicts, &action);
	if (count)
		__sync_fetch_and_add(count, 1);
	return action;
}

static int is_blocked(__u32 saddr)
{
	struct lpm_v4_key key = { .prefixlen = 32, .addr = saddr };
	if (bpf_map_lookup_elem(&blocked, &key))
		return 1;
	for (__u32 i = 0; i < MAX_DEFAULT; i++) {
		if (i >= default_count)
			break;
		if (default_blocked[i] == saddr)
			return 1;
	}
	return 0;
}

SEC("xdp")
int xdp_firewall(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	__u8 *eth = data;

	if ((void *)(eth + 14) > data_end)
		return verdict(XDP_ABORTED);
	__u16 proto = (__u16)(eth[12] << 8 | eth[13]);
	if (proto != 0x0800)
		return verdict(XDP_PASS);
	__u8 *ip = eth + 14;
	if ((void *)(ip + 20) > data_end)
		return verdict(XDP_DROP);
	if ((ip[0] >> 4) != 4)
		return verdict(XDP_DROP);
	__u32 saddr = *(__u32 *)(ip + 12);
	if (is_blocked(saddr)) {
		__u64 one = 1, *n = bpf_map_lookup_elem(&drops, &saddr);
		if (n)
			__sync_fetch_and_add(n, 1);
		else
			bpf_map_update_elem(&drops, &saddr, &one, 0);
		return verdict(XDP_DROP);
	}
	return verdict(XDP_PASS);
}

char _license[] SEC("license") = "GPL";
