/* A program in a section libbpf does not know: loading it needs an explicit program type. */
typedef unsigned int __u32;
#define SEC(name) __attribute__((section(name), used))

struct __sk_buff { __u32 len; };

SEC("my_filter/v1") int custom_filter(struct __sk_buff *skb) { return skb->len > 64; }

char LICENSE[] SEC("license") = "GPL";
