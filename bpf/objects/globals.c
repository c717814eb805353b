/* Global data: .data, .rodata constants (set before load), .bss, custom .data.* and
 * .rodata.* sections, string literals (.rodata.str1.1) and static variables. Loads with
 * libbpf (bpftool prog loadall). */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

enum verdict { VERDICT_PASS = 1, VERDICT_DROP = 2 };

struct limits {
	__u32 min_len;
	__u32 max_len;
	__u16 ports[4];
};

/* .rodata: constants a loader sets before load. */
const volatile __u32 target_pid = 0;
const volatile bool enabled = true;
const volatile __s64 threshold = -5;
const volatile enum verdict default_verdict = VERDICT_PASS;
const volatile char tag[8] = "eth0";
const volatile struct limits limits = { .min_len = 14, .max_len = 1514, .ports = { 22, 80, 443, 0 } };
const volatile __u8 mac[6] = { 0x02, 0, 0, 0, 0, 0x01 };

/* .data and .bss. */
__u64 packets = 100;
__u32 last_len = 7;
__u64 drops;
__u32 histogram[8];
static __u32 hidden_seen;

/* Custom sections: libbpf makes one ARRAY map per section. */
__u64 custom_counter SEC(".data.custom") = 42;
__u32 custom_pair[2] SEC(".data.custom") = { 1, 2 };
const volatile __u32 ro_limit SEC(".rodata.limits") = 9000;

SEC("socket")
int globals_socket(struct __sk_buff *skb)
{
	__u32 len = skb->len;

	if (!enabled || len < limits.min_len || len > limits.max_len + ro_limit) {
		__sync_fetch_and_add(&drops, 1);
		return 0;
	}
	if (target_pid && bpf_get_current_pid_tgid() >> 32 != target_pid)
		return 0;
	packets++;
	last_len = len;
	histogram[len & 7]++;
	hidden_seen++;
	custom_counter += custom_pair[len & 1];
	if (len == mac[5] + tag[0] + threshold)
		bpf_printk("odd length %u", len);
	return default_verdict == VERDICT_PASS ? skb->len : 0;
}

SEC("xdp")
int globals_xdp(struct xdp_md *ctx)
{
	const char *msg = "xdp sees %u";

	if (ctx->data_end - ctx->data < limits.ports[1])
		bpf_trace_printk(msg, 12, ctx->ingress_ifindex);
	return packets > threshold ? XDP_PASS : XDP_DROP;
}

char LICENSE[] SEC("license") = "GPL";
