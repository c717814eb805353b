/* tc_redirect: on an interface's tcx egress hook, sends IPv4 TCP and UDP packets whose
 * destination port has an entry in the `ports` hash out of the entry's interface instead
 * (bpf_redirect to its ifindex, in the same network namespace), counting them; other packets
 * go on unchanged. The map is pinned by name so another process edits the routes. */
#include "tools.h"

struct route {
	__u32 ifindex;
	__u32 _pad;
	__u64 packets;
	__u64 bytes;
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1024);
	__type(key, __u16);		/* destination port, host byte order */
	__type(value, struct route);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} ports SEC(".maps");

SEC("tcx/egress")
int tc_redirect(struct __sk_buff *skb)
{
	void *data = (void *)(long)skb->data;
	void *data_end = (void *)(long)skb->data_end;
	struct ethhdr *eth = data;
	struct iphdr *ip;
	struct route *route;
	__be16 *l4;
	__u16 port;

	if ((void *)(eth + 1) > data_end || eth->h_proto != bpf_htons(ETH_P_IP))
		return TCX_NEXT;
	ip = (void *)(eth + 1);
	if ((void *)(ip + 1) > data_end || ip->ihl < 5)
		return TCX_NEXT;
	if (ip->protocol != IPPROTO_TCP && ip->protocol != IPPROTO_UDP)
		return TCX_NEXT;
	/* Both headers start with the source then the destination port. */
	l4 = (void *)ip + ip->ihl * 4;
	if ((void *)(l4 + 2) > data_end)
		return TCX_NEXT;
	port = bpf_ntohs(l4[1]);
	route = bpf_map_lookup_elem(&ports, &port);
	if (!route)
		return TCX_NEXT;
	__sync_fetch_and_add(&route->packets, 1);
	__sync_fetch_and_add(&route->bytes, skb->len);
	return bpf_redirect(route->ifindex, 0);
}

char LICENSE[] SEC("license") = "GPL";
