/* Sections whose programs need a BTF attach target (fentry, fexit, fmod_ret, lsm, iter,
 * tp_btf, freplace) or a link type to load (multi-kprobes, USDT), including the sleepable
 * `.s` variants. Parsed only: loading these needs trampolines this test machine lacks. Pointer
 * arguments are void * so the object's BTF stays small. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

SEC("fentry/do_unlinkat") int BPF_PROG(sec_fentry, int dfd, void *name) { return 0; }
SEC("fexit/do_unlinkat") int BPF_PROG(sec_fexit, int dfd, void *name, long ret) { return 0; }
SEC("fmod_ret/security_task_alloc") int BPF_PROG(sec_fmod_ret, void *t, unsigned long f) { return 0; }
SEC("fentry.s/__x64_sys_getpgid") int BPF_PROG(sec_fentry_s) { return 0; }
SEC("fexit.s/__x64_sys_getpgid") int BPF_PROG(sec_fexit_s) { return 0; }
SEC("tp_btf/sched_switch") int BPF_PROG(sec_tp_btf, bool preempt, void *prev) { return 0; }
SEC("lsm/file_open") int BPF_PROG(sec_lsm, void *file) { return 0; }
SEC("lsm.s/bprm_committed_creds") int BPF_PROG(sec_lsm_s, void *bprm) { return 0; }
SEC("lsm_cgroup/socket_bind") int BPF_PROG(sec_lsm_cgroup, void *sock) { return 1; }
SEC("iter/task") int sec_iter_task(void *ctx) { return 0; }
SEC("iter.s/task_file") int sec_iter_s(void *ctx) { return 0; }
SEC("freplace/handler") int sec_freplace(struct xdp_md *ctx) { return XDP_PASS; }
SEC("kprobe.multi/do_unlinkat*") int sec_kprobe_multi(struct pt_regs *ctx) { return 0; }
SEC("kretprobe.multi/do_unlinkat*") int sec_kretprobe_multi(struct pt_regs *ctx) { return 0; }
SEC("uprobe.s//proc/self/exe:main") int sec_uprobe_s(struct pt_regs *ctx) { return 0; }
SEC("uretprobe//usr/lib/libc.so.6:malloc") int sec_uretprobe(struct pt_regs *ctx) { return 0; }
SEC("usdt/./app:provider:probe") int sec_usdt(struct pt_regs *ctx) { return 0; }
SEC("kretsyscall/close") int sec_kretsyscall(struct pt_regs *ctx) { return 0; }
SEC("raw_tp.w/bpf_test_finish") int sec_raw_tp_w(struct bpf_raw_tracepoint_args *ctx) { return 0; }
SEC("fentry") int BPF_PROG(sec_fentry_no_target) { return 0; }

char LICENSE[] SEC("license") = "GPL";
