/* One small program per section name that libbpf 1.1 knows and this kernel loads without
 * an attach target: networking, cgroup, socket-map and plain tracing hooks. The tests load
 * it with bpftool prog loadall and compare the kernel's program types with ours. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

SEC("socket") int sec_socket(struct __sk_buff *skb) { return skb->len; }
SEC("sk_reuseport") int sec_reuseport(struct sk_reuseport_md *md) { return SK_PASS; }
SEC("sk_reuseport/migrate") int sec_reuseport_migrate(struct sk_reuseport_md *md) { return SK_PASS; }
SEC("kprobe/do_unlinkat") int sec_kprobe(struct pt_regs *ctx) { return 0; }
SEC("kretprobe/do_unlinkat") int sec_kretprobe(struct pt_regs *ctx) { return 0; }
SEC("uprobe") int sec_uprobe(struct pt_regs *ctx) { return 0; }
SEC("ksyscall/openat") int sec_ksyscall(struct pt_regs *ctx) { return 0; }
SEC("tc") int sec_tc(struct __sk_buff *skb) { return 0; }
SEC("classifier") int sec_classifier(struct __sk_buff *skb) { return 0; }
SEC("action") int sec_action(struct __sk_buff *skb) { return 0; }
SEC("tracepoint/syscalls/sys_enter_execve") int sec_tracepoint(void *ctx) { return 0; }
SEC("tp/sched/sched_switch") int sec_tp(void *ctx) { return 0; }
SEC("raw_tracepoint/sched_switch") int sec_raw_tracepoint(struct bpf_raw_tracepoint_args *ctx) { return 0; }
SEC("raw_tp/sys_enter") int sec_raw_tp(struct bpf_raw_tracepoint_args *ctx) { return 0; }
SEC("syscall") int sec_syscall(void *ctx) { return 0; }
SEC("xdp.frags/devmap") int sec_xdp_frags_devmap(struct xdp_md *ctx) { return XDP_PASS; }
SEC("xdp/devmap") int sec_xdp_devmap(struct xdp_md *ctx) { return XDP_PASS; }
SEC("xdp.frags/cpumap") int sec_xdp_frags_cpumap(struct xdp_md *ctx) { return XDP_PASS; }
SEC("xdp/cpumap") int sec_xdp_cpumap(struct xdp_md *ctx) { return XDP_PASS; }
SEC("xdp.frags") int sec_xdp_frags(struct xdp_md *ctx) { return XDP_PASS; }
SEC("xdp") int sec_xdp(struct xdp_md *ctx) { return XDP_PASS; }
SEC("perf_event") int sec_perf_event(struct bpf_perf_event_data *ctx) { return 0; }
SEC("lwt_in") int sec_lwt_in(struct __sk_buff *skb) { return BPF_OK; }
SEC("lwt_out") int sec_lwt_out(struct __sk_buff *skb) { return BPF_OK; }
SEC("lwt_xmit") int sec_lwt_xmit(struct __sk_buff *skb) { return BPF_OK; }
SEC("sockops") int sec_sockops(struct bpf_sock_ops *ops) { return 1; }
SEC("sk_skb/stream_parser") int sec_sk_skb_parser(struct __sk_buff *skb) { return skb->len; }
SEC("sk_skb/stream_verdict") int sec_sk_skb_verdict(struct __sk_buff *skb) { return SK_PASS; }
SEC("sk_skb") int sec_sk_skb(struct __sk_buff *skb) { return SK_PASS; }
SEC("sk_msg") int sec_sk_msg(struct sk_msg_md *msg) { return SK_PASS; }
SEC("flow_dissector") int sec_flow_dissector(struct __sk_buff *skb) { return BPF_OK; }
SEC("cgroup_skb/ingress") int sec_cgroup_skb_ingress(struct __sk_buff *skb) { return 1; }
SEC("cgroup_skb/egress") int sec_cgroup_skb_egress(struct __sk_buff *skb) { return 1; }
SEC("cgroup/skb") int sec_cgroup_skb(struct __sk_buff *skb) { return 1; }
SEC("cgroup/sock_create") int sec_sock_create(struct bpf_sock *sk) { return 1; }
SEC("cgroup/sock_release") int sec_sock_release(struct bpf_sock *sk) { return 1; }
SEC("cgroup/sock") int sec_sock(struct bpf_sock *sk) { return 1; }
SEC("cgroup/post_bind4") int sec_post_bind4(struct bpf_sock *sk) { return 1; }
SEC("cgroup/bind6") int sec_bind6(struct bpf_sock_addr *ctx) { return 1; }
SEC("cgroup/connect4") int sec_connect4(struct bpf_sock_addr *ctx) { return 1; }
SEC("cgroup/connect6") int sec_connect6(struct bpf_sock_addr *ctx) { return 1; }
SEC("cgroup/sendmsg4") int sec_sendmsg4(struct bpf_sock_addr *ctx) { return 1; }
SEC("cgroup/recvmsg6") int sec_recvmsg6(struct bpf_sock_addr *ctx) { return 1; }
SEC("cgroup/getpeername4") int sec_getpeername4(struct bpf_sock_addr *ctx) { return 1; }
SEC("cgroup/getsockname6") int sec_getsockname6(struct bpf_sock_addr *ctx) { return 1; }
SEC("cgroup/sysctl") int sec_sysctl(struct bpf_sysctl *ctx) { return 1; }
SEC("cgroup/getsockopt") int sec_getsockopt(struct bpf_sockopt *ctx) { return 1; }
SEC("cgroup/setsockopt") int sec_setsockopt(struct bpf_sockopt *ctx) { return 1; }
SEC("cgroup/dev") int sec_dev(struct bpf_cgroup_dev_ctx *ctx) { return 1; }
SEC("sk_lookup") int sec_sk_lookup(struct bpf_sk_lookup *ctx) { return SK_PASS; }

char LICENSE[] SEC("license") = "GPL";
