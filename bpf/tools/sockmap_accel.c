/* sockmap_accel: local TCP without the TCP stack. A sock_ops program on a cgroup puts every
 * established IPv4 socket whose two ends are on this host (same local and remote address)
 * into a SOCKHASH keyed by its four-tuple; an sk_msg program on that SOCKHASH moves what such
 * a socket sends straight into its peer's receive queue (bpf_msg_redirect_hash with
 * BPF_F_INGRESS), found by the reversed four-tuple. When the peer is not in the map (its
 * process is outside the cgroup), the data takes the normal path. */
#include "tools.h"

/* Addresses as the context gives them (network byte order), ports in host byte order. */
struct sock_key {
	__u32 local_ip4;
	__u32 remote_ip4;
	__u32 local_port;
	__u32 remote_port;
};

struct accel_stats {
	__u64 sockets;		/* sockets added to the map */
	__u64 redirected;	/* messages moved to a peer */
	__u64 redirected_bytes;
	__u64 passed;		/* messages left to TCP (no peer in the map) */
};

struct {
	__uint(type, BPF_MAP_TYPE_SOCKHASH);
	__uint(max_entries, 65536);
	__type(key, struct sock_key);
	__type(value, __u64);
} sock_hash SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct accel_stats);
} stats SEC(".maps");

static __always_inline struct accel_stats *get_stats(void)
{
	__u32 zero = 0;

	return bpf_map_lookup_elem(&stats, &zero);
}

SEC("sockops")
int accel_sockops(struct bpf_sock_ops *skops)
{
	struct sock_key key = {};
	struct accel_stats *s;

	if (skops->family != AF_INET)
		return 1;
	if (skops->op != BPF_SOCK_OPS_ACTIVE_ESTABLISHED_CB && skops->op != BPF_SOCK_OPS_PASSIVE_ESTABLISHED_CB)
		return 1;
	if (skops->local_ip4 != skops->remote_ip4)
		return 1;
	key.local_ip4 = skops->local_ip4;
	key.remote_ip4 = skops->remote_ip4;
	key.local_port = skops->local_port;
	/* remote_port holds the port in network byte order in its upper half. */
	key.remote_port = bpf_ntohl(skops->remote_port);
	if (bpf_sock_hash_update(skops, &sock_hash, &key, BPF_ANY) == 0) {
		s = get_stats();
		if (s)
			__sync_fetch_and_add(&s->sockets, 1);
	}
	return 1;
}

SEC("sk_msg")
int accel_redirect(struct sk_msg_md *msg)
{
	struct sock_key peer = {};
	struct accel_stats *s = get_stats();
	__u32 size = msg->size;

	if (msg->family != AF_INET)
		return SK_PASS;
	peer.local_ip4 = msg->remote_ip4;
	peer.remote_ip4 = msg->local_ip4;
	peer.local_port = bpf_ntohl(msg->remote_port);
	peer.remote_port = msg->local_port;
	if (bpf_msg_redirect_hash(msg, &sock_hash, &peer, BPF_F_INGRESS) == SK_PASS) {
		if (s) {
			__sync_fetch_and_add(&s->redirected, 1);
			__sync_fetch_and_add(&s->redirected_bytes, size);
		}
	} else if (s) {
		__sync_fetch_and_add(&s->passed, 1);
	}
	return SK_PASS;
}

char LICENSE[] SEC("license") = "GPL";
