/* execsnoop: one record per execve(), after it returned — the new program's name, the pid and
 * parent pid, the return value, the file name and arguments. sys_enter_execve copies the
 * arguments while they still exist (the old address space), sys_exit_execve adds the result
 * and sends the record; a hash map keyed by thread id holds it in between. */
#include "tools.h"

#define MAX_ARGS 20
#define ARG_LEN 128

struct event {
	__u64 time_ns;			/* bpf_ktime_get_ns() at the exit: CLOCK_MONOTONIC */
	__u32 pid;
	__u32 ppid;
	__u32 uid;
	__s32 retval;
	__u32 argc;			/* slots of argv filled */
	__u32 truncated;		/* 1 when the program had more arguments than slots */
	char comm[TASK_COMM_LEN];
	char argv[MAX_ARGS][ARG_LEN];	/* argv[0] is the file name given to execve */
};

/* Set before load (the verifier sees constants): arguments to read, and whether failed
 * execs are reported. */
const volatile __u32 max_args = MAX_ARGS;
const volatile bool include_failed = false;

static const struct event empty_event = {};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 10240);
	__type(key, __u32);
	__type(value, struct event);
} execs SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 1 << 20);
} events SEC(".maps");

SEC("tp/syscalls/sys_enter_execve")
int execsnoop_enter(struct trace_event_raw_sys_enter *ctx)
{
	__u64 id = bpf_get_current_pid_tgid();
	__u32 tid = (__u32)id;
	const char *const *argv = (const char *const *)ctx->args[1];
	struct task_struct *task;
	struct event *e;
	int i;

	/* BPF_ANY: an entry left by an exec whose exit we never saw is overwritten. */
	if (bpf_map_update_elem(&execs, &tid, &empty_event, BPF_ANY))
		return 0;
	e = bpf_map_lookup_elem(&execs, &tid);
	if (!e)
		return 0;

	task = (struct task_struct *)bpf_get_current_task();
	e->pid = id >> 32;
	e->ppid = BPF_CORE_READ(task, real_parent, tgid);
	e->uid = (__u32)bpf_get_current_uid_gid();

	bpf_probe_read_user_str(e->argv[0], ARG_LEN, (const char *)ctx->args[0]);
	e->argc = 1;
	for (i = 1; i < MAX_ARGS; i++) {
		const char *arg = NULL;

		if (i >= max_args)
			break;
		if (bpf_probe_read_user(&arg, sizeof(arg), &argv[i]) || !arg)
			return 0;
		bpf_probe_read_user_str(e->argv[i], ARG_LEN, arg);
		e->argc = i + 1;
	}
	/* Every slot used: say whether more arguments followed. */
	{
		const char *arg = NULL;

		if (e->argc < max_args)
			return 0;
		if (!bpf_probe_read_user(&arg, sizeof(arg), &argv[e->argc]) && arg)
			e->truncated = 1;
	}
	return 0;
}

SEC("tp/syscalls/sys_exit_execve")
int execsnoop_exit(struct trace_event_raw_sys_exit *ctx)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	struct event *e = bpf_map_lookup_elem(&execs, &tid);

	if (!e)
		return 0;
	if (ctx->ret == 0 || include_failed) {
		e->retval = ctx->ret;
		e->time_ns = bpf_ktime_get_ns();
		bpf_get_current_comm(e->comm, sizeof(e->comm));
		bpf_ringbuf_output(&events, e, sizeof(*e), 0);
	}
	bpf_map_delete_elem(&execs, &tid);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
