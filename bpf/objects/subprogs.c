/* Subprograms: static noinline functions, global (non-static) functions in .text, a
 * __hidden global, and callbacks passed to bpf_loop and bpf_for_each_map_elem (lddw of
 * BPF_PSEUDO_FUNC). Two entry programs use the subprograms in different orders, so their
 * linked layouts differ (libbpf appends subprograms in first-use order). Loads with libbpf. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 8);
	__type(key, __u32);
	__type(value, __u64);
} values SEC(".maps");

__u64 total;

static __noinline __u64 square(__u64 x)
{
	return x * x;
}

static __noinline __u64 sum_squares(__u64 a, __u64 b)
{
	return square(a) + square(b);
}

__noinline int global_clamp(int v)
{
	if (v < 0)
		return 0;
	return v > 100 ? 100 : v;
}

__hidden __noinline int hidden_twice(int v)
{
	return v * 2 + (int)total;
}

struct loop_ctx {
	__u64 acc;
	__u32 limit;
};

static int loop_body(__u32 i, void *data)
{
	struct loop_ctx *c = data;

	c->acc += square(i);
	return i >= c->limit;
}

static __u64 each_elem(void *map, __u32 *key, __u64 *val, struct loop_ctx *c)
{
	c->acc += *val + *key;
	return 0;
}

SEC("socket")
int sub_socket(struct __sk_buff *skb)
{
	struct loop_ctx c = { .acc = 0, .limit = skb->len & 15 };

	bpf_loop(16, loop_body, &c, 0);
	bpf_for_each_map_elem(&values, each_elem, &c, 0);
	total += c.acc;
	return global_clamp((int)sum_squares(skb->len, c.acc));
}

SEC("tc")
int sub_tc(struct __sk_buff *skb)
{
	int v = hidden_twice(skb->len);

	v += global_clamp(v);
	total += sum_squares(v, 3);
	return 0;
}

SEC("xdp")
int sub_xdp_leaf(struct xdp_md *ctx)
{
	return XDP_PASS;
}

char LICENSE[] SEC("license") = "GPL";
