/* The object of test/kernel/hygiene.test.ts: one map and one program, loaded, attached and
 * disposed thousands of times to show that nothing leaks. A raw tracepoint that rarely fires
 * (task_rename: prctl(PR_SET_NAME) and exec), counting its calls in the map; compiled by the
 * test with clang-19. */
typedef unsigned int __u32;
typedef unsigned long long __u64;

#define SEC(name) __attribute__((section(name), used))
#define __uint(name, val) int (*name)[val]
#define __type(name, val) typeof(val) *name

enum { BPF_MAP_TYPE_ARRAY = 2 };

static void *(*bpf_map_lookup_elem)(void *map, const void *key) = (void *)1;

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} calls SEC(".maps");

SEC("raw_tp/task_rename")
int count_renames(void *ctx)
{
	__u32 key = 0;
	__u64 *n = bpf_map_lookup_elem(&calls, &key);

	if (n)
		__sync_fetch_and_add(n, 1);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
