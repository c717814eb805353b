/* Section names from libbpf releases newer than the bpftool on the test machine: tcx and
 * netkit links, netfilter, sessions, multi-uprobes, sleepable tracepoints, unix-socket cgroup
 * hooks, struct_ops names. Parsed only. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

SEC("tcx/ingress") int sec_tcx_ingress(struct __sk_buff *skb) { return TCX_PASS; }
SEC("tcx/egress") int sec_tcx_egress(struct __sk_buff *skb) { return TCX_PASS; }
SEC("tc/ingress") int sec_tc_ingress(struct __sk_buff *skb) { return TCX_NEXT; }
SEC("tc/egress") int sec_tc_egress(struct __sk_buff *skb) { return TCX_NEXT; }
SEC("netkit/primary") int sec_netkit_primary(struct __sk_buff *skb) { return 0; /* NETKIT_PASS */ }
SEC("netkit/peer") int sec_netkit_peer(struct __sk_buff *skb) { return 0; /* NETKIT_PASS */ }
SEC("netfilter") int sec_netfilter(void *ctx) { return 1; /* NF_ACCEPT */ }
SEC("kprobe.session/do_unlinkat") int sec_kprobe_session(struct pt_regs *ctx) { return 0; }
SEC("uprobe.multi//proc/self/exe:main*") int sec_uprobe_multi(struct pt_regs *ctx) { return 0; }
SEC("uprobe.session.s//bin/true:main") int sec_uprobe_session_s(struct pt_regs *ctx) { return 0; }
SEC("usdt.s") int sec_usdt_s(struct pt_regs *ctx) { return 0; }
SEC("tp.s/syscalls/sys_enter_openat") int sec_tp_s(void *ctx) { return 0; }
SEC("raw_tp.s/sys_enter") int sec_raw_tp_s(void *ctx) { return 0; }
SEC("sk_skb/verdict") int sec_sk_skb_verdict(struct __sk_buff *skb) { return SK_PASS; }
SEC("cgroup/connect_unix") int sec_connect_unix(struct bpf_sock_addr *ctx) { return 1; }
SEC("cgroup/getsockname_unix") int sec_getsockname_unix(struct bpf_sock_addr *ctx) { return 1; }
SEC("struct_ops/ignored_name") int sec_struct_ops(void *ctx) { return 0; }
SEC("?xdp") int sec_xdp_not_autoloaded(struct xdp_md *ctx) { return XDP_PASS; }
SEC("?socket") int sec_socket_optional(struct __sk_buff *skb) { return 0; }

char LICENSE[] SEC("license") = "GPL";
