/**
 * Test runs of sk_lookup programs, as net/bpf/test_run.c runs them (bpf_prog_test_run_sk_lookup):
 * no data, a `struct bpf_sk_lookup` in ctx with the family, protocol, addresses and ports of
 * the connection being looked up; the program sees them (the other family's addresses read 0,
 * as the kernel's lookup context has them zeroed); the run's result is SK_PASS unless the
 * program dropped, and the ctx comes back with `cookie` 0 (no socket selected).
 */
import { EbpfError } from '../../errors.js';
import type { ContextModel } from './context.js';

/** sizeof(struct bpf_sk_lookup) and its fields' offsets (include/uapi/linux/bpf.h). */
export const BPF_SK_LOOKUP_SIZE = 72;
const F = { sk: 0, family: 8, protocol: 12, remote_ip4: 16, remote_ip6: 20, remote_port: 36, local_ip4: 40, local_ip6: 44, local_port: 60, ingress_ifindex: 64 } as const;
const AF_INET = 2;
const AF_INET6 = 10;

function refuse(name: string, errno: string, why: string): never {
  throw new EbpfError(`test run program '${name}': ${why} (the kernel answers ${errno})`);
}

/** The sk_lookup context model: see the module comment. */
export const skLookupContextModel: ContextModel = (memory, input, program) => {
  if (input.data !== undefined && input.data.length > 0) refuse(program.name, 'EINVAL', 'sk_lookup programs take no data, only a context');
  const user = input.ctx;
  if (user === undefined || user.length === 0) refuse(program.name, 'EINVAL', 'an sk_lookup run needs a struct bpf_sk_lookup in ctx');
  if (user.length > BPF_SK_LOOKUP_SIZE && user.subarray(BPF_SK_LOOKUP_SIZE).some((b) => b !== 0)) refuse(program.name, 'E2BIG', 'ctx is longer than struct bpf_sk_lookup');
  const image = new Uint8Array(BPF_SK_LOOKUP_SIZE);
  image.set(user.subarray(0, BPF_SK_LOOKUP_SIZE));
  const v = new DataView(image.buffer);
  if (v.getBigUint64(F.sk, true) !== 0n) refuse(program.name, 'EINVAL', 'ctx.sk must be 0');
  if (image.subarray(F.local_port + 4).some((b) => b !== 0)) refuse(program.name, 'EINVAL', 'the fields after local_port must be 0');
  if (v.getUint32(F.local_port, true) > 0xffff) refuse(program.name, 'ERANGE', 'local_port is past 65535');
  const family = v.getUint32(F.family, true);
  if (family !== AF_INET && family !== AF_INET6) refuse(program.name, 'EAFNOSUPPORT', `family ${family} is neither AF_INET nor AF_INET6`);
  // What the program reads: the kernel keeps family and protocol as u16, the other family's addresses zero.
  const seen = image.slice();
  const sv = new DataView(seen.buffer);
  sv.setUint32(F.family, family & 0xffff, true);
  sv.setUint32(F.protocol, v.getUint32(F.protocol, true) & 0xffff, true);
  sv.setUint16(F.remote_port + 2, 0, true);
  if (family === AF_INET) {
    seen.fill(0, F.remote_ip6, F.remote_ip6 + 16);
    seen.fill(0, F.local_ip6, F.local_ip6 + 16);
  } else {
    sv.setUint32(F.remote_ip4, 0, true);
    sv.setUint32(F.local_ip4, 0, true);
  }
  const region = memory.alloc(BPF_SK_LOOKUP_SIZE, { kind: 'context', name: `bpf_sk_lookup of '${program.name}'`, writable: false, init: seen });
  return {
    ctx: region.start,
    finish: () => {
      // No socket can be selected here (bpf_sk_assign is not in the VM): cookie 0.
      const out = image.slice();
      new DataView(out.buffer).setBigUint64(F.sk, 0n, true);
      return { dataOut: new Uint8Array(0), ctxOut: out };
    },
    release: () => memory.release(region),
  };
};
