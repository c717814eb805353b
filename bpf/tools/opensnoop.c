/* opensnoop: one record per openat(), after it returned — who opened what, and the fd or
 * the error. sys_enter_openat keeps the path pointer and flags by thread id; sys_exit_openat
 * reads the path (the kernel has copied it by then, so it is paged in) and sends the record. */
#include "tools.h"

#define PATH_LEN 256

struct start {
	const char *path;
	__s32 flags;
};

struct event {
	__u64 time_ns;			/* bpf_ktime_get_ns(): CLOCK_MONOTONIC */
	__u32 pid;
	__u32 tid;
	__u32 uid;
	__s32 ret;			/* the fd, or -errno */
	__s32 flags;
	char comm[TASK_COMM_LEN];
	char path[PATH_LEN];
};

EXPORT_TYPE(struct event, event);

/* Set before load: only this process (0: every process), only failed opens. */
const volatile __u32 target_pid = 0;
const volatile bool failed_only = false;

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 10240);
	__type(key, __u32);
	__type(value, struct start);
} starts SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 1 << 20);
} events SEC(".maps");

SEC("tp/syscalls/sys_enter_openat")
int opensnoop_enter(struct trace_event_raw_sys_enter *ctx)
{
	__u64 id = bpf_get_current_pid_tgid();
	__u32 tid = (__u32)id;
	struct start start = {};

	if (target_pid && (id >> 32) != target_pid)
		return 0;
	start.path = (const char *)ctx->args[1];
	start.flags = (__s32)ctx->args[2];
	bpf_map_update_elem(&starts, &tid, &start, BPF_ANY);
	return 0;
}

SEC("tp/syscalls/sys_exit_openat")
int opensnoop_exit(struct trace_event_raw_sys_exit *ctx)
{
	__u64 id = bpf_get_current_pid_tgid();
	__u32 tid = (__u32)id;
	struct start *start = bpf_map_lookup_elem(&starts, &tid);
	struct event *e;

	if (!start)
		return 0;
	if (failed_only && ctx->ret >= 0)
		goto out;
	e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
	if (!e)
		goto out;
	e->time_ns = bpf_ktime_get_ns();
	e->pid = id >> 32;
	e->tid = tid;
	e->uid = (__u32)bpf_get_current_uid_gid();
	e->ret = ctx->ret;
	e->flags = start->flags;
	bpf_get_current_comm(e->comm, sizeof(e->comm));
	bpf_probe_read_user_str(e->path, sizeof(e->path), start->path);
	bpf_ringbuf_submit(e, 0);
out:
	bpf_map_delete_elem(&starts, &tid);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
