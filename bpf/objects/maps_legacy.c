/* Legacy map definitions: `struct bpf_map_def` in the `maps` section (pre-BTF style,
 * iproute2 and old samples). libbpf 1.x refuses these; cilium/ebpf and we read them. */
typedef unsigned int __u32;
typedef unsigned long long __u64;

#define SEC(name) __attribute__((section(name), used))

struct bpf_map_def {
	unsigned int type;
	unsigned int key_size;
	unsigned int value_size;
	unsigned int max_entries;
	unsigned int map_flags;
};

struct __sk_buff { __u32 len; };

static void *(*bpf_map_lookup_elem)(void *map, const void *key) = (void *)1;

struct bpf_map_def SEC("maps") packet_count = {
	.type = 2, /* BPF_MAP_TYPE_ARRAY */
	.key_size = sizeof(__u32),
	.value_size = sizeof(__u64),
	.max_entries = 256,
};

struct bpf_map_def SEC("maps") conn_table = {
	.type = 1, /* BPF_MAP_TYPE_HASH */
	.key_size = 8,
	.value_size = 16,
	.max_entries = 4096,
	.map_flags = 1, /* BPF_F_NO_PREALLOC */
};

SEC("socket")
int legacy_counter(struct __sk_buff *skb)
{
	__u32 key = 6;
	__u64 ckey = skb->len;
	__u64 *v = bpf_map_lookup_elem(&packet_count, &key);

	if (v)
		__sync_fetch_and_add(v, 1);
	if (bpf_map_lookup_elem(&conn_table, &ckey))
		return 1;
	return 0;
}

char _license[] SEC("license") = "GPL";
unsigned int _version SEC("version") = 0x060c00;
