/* An object for test/kernel/collection.test.ts, compiled by the test with clang-19: `.rodata`
 * constants the verifier sees as constants, `__kconfig` externs libbpf's way (a virtual
 * LINUX_KERNEL_VERSION, CONFIG_* from the kernel's configuration, a weak one the kernel lacks),
 * kfunc calls, and a weak kfunc the kernel lacks behind an existence check. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

const volatile __u32 magic = 7;
const volatile bool shout = false;

extern unsigned int LINUX_KERNEL_VERSION __kconfig;
extern int CONFIG_HZ __kconfig __weak;
extern bool CONFIG_BPF_SYSCALL __kconfig;
extern int CONFIG_EBPF_TS_NO_SUCH_OPTION __kconfig __weak;

extern void bpf_rcu_read_lock(void) __ksym;
extern void bpf_rcu_read_unlock(void) __ksym;
extern void bpf_ebpf_ts_no_such_kfunc(void) __ksym __weak;

__u64 seen[4];

SEC("socket")
int return_magic(struct __sk_buff *skb)
{
	if (shout)
		return magic * 100;
	return magic;
}

SEC("socket")
int kconfig_values(struct __sk_buff *skb)
{
	seen[0] = LINUX_KERNEL_VERSION;
	seen[1] = CONFIG_HZ;
	seen[2] = CONFIG_BPF_SYSCALL;
	seen[3] = CONFIG_EBPF_TS_NO_SUCH_OPTION + 1;
	return 0;
}

SEC("tc")
int call_kfuncs(struct __sk_buff *skb)
{
	bpf_rcu_read_lock();
	bpf_rcu_read_unlock();
	if (bpf_ebpf_ts_no_such_kfunc)
		bpf_ebpf_ts_no_such_kfunc();
	return 3;
}

char LICENSE[] SEC("license") = "GPL";
