/* An exception callback: the `exception_callback:NAME` BTF decl tag on an entry program
 * makes libbpf append that global subprogram even though nothing calls it. Parsed only
 * (bpf_throw needs a newer libbpf than the test machine's to load). */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

extern void bpf_throw(__u64 cookie) __ksym;

__noinline int exc_handler(__u64 cookie)
{
	return cookie + 1;
}

static __noinline int check_len(struct __sk_buff *skb)
{
	if (skb->len > 9000)
		bpf_throw(7);
	return skb->len;
}

SEC("tc") __attribute__((btf_decl_tag("exception_callback:exc_handler")))
int throwing_tc(struct __sk_buff *skb)
{
	return check_len(skb) & 1;
}

char LICENSE[] SEC("license") = "GPL";
