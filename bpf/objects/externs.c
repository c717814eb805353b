/* Externs: .kconfig values libbpf fills at load (LINUX_KERNEL_VERSION, CONFIG_*), typed and
 * typeless .ksyms, and a kfunc call. Parsed only. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

extern unsigned int LINUX_KERNEL_VERSION __kconfig;
extern bool CONFIG_BPF_SYSCALL __kconfig __weak;
extern int CONFIG_HZ __kconfig __weak;
extern char CONFIG_LOCALVERSION[16] __kconfig __weak;
extern enum libbpf_tristate CONFIG_BPF_JIT __kconfig __weak;

extern const int bpf_prog_active __ksym;
extern const void init_task __ksym;

extern void bpf_rcu_read_lock(void) __ksym;
extern void bpf_rcu_read_unlock(void) __ksym;

__u64 seen;

SEC("tp_btf/sched_switch")
int BPF_PROG(on_switch, bool preempt, void *prev, void *next)
{
	int *active;

	if (LINUX_KERNEL_VERSION < KERNEL_VERSION(5, 15, 0) || !CONFIG_BPF_SYSCALL)
		return 0;
	active = bpf_this_cpu_ptr(&bpf_prog_active);
	seen += *active + CONFIG_HZ + CONFIG_LOCALVERSION[0] + (CONFIG_BPF_JIT == TRI_YES);
	seen += (__u64)&init_task;
	bpf_rcu_read_lock();
	bpf_rcu_read_unlock();
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
