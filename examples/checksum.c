// The Internet checksum (RFC 1071) of the bytes passed to the program: r1 points at them and
// r2 holds their length, the calling convention of `ebpf exec --mem`.
// The section name "exec" is this repository's convention for `ebpf exec`: it is not a kernel
// program type. Build: npm run build:bpf (clang-19 -O2 -g -target bpf -mcpu=v3).

typedef unsigned char u8;
typedef unsigned int u32;
typedef unsigned long long u64;

__attribute__((section("exec"), used))
u64 checksum(const u8 *data, u64 len)
{
	u32 sum = 0;
	u64 i;

	for (i = 0; i + 1 < len && i < 65536; i += 2)
		sum += (u32)data[i] << 8 | data[i + 1];
	if (i < len && i < 65536)
		sum += (u32)data[i] << 8;
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (~sum) & 0xffff;
}

char _license[] __attribute__((section("license"), used)) = "GPL";
