/* hello: a bpf_trace_printk() line for every execve(), naming the file being executed;
 * user space reads it from tracefs (trace_pipe). */
#include "tools.h"

SEC("tp/syscalls/sys_enter_execve")
int hello(struct trace_event_raw_sys_enter *ctx)
{
	char path[96];

	if (bpf_probe_read_user_str(path, sizeof(path), (const char *)ctx->args[0]) < 0)
		path[0] = '\0';
	bpf_printk("hello, exec of %s", path);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
