/**
 * Context models of the packet program types, after net/bpf/test_run.c: XDP
 * (bpf_prog_test_run_xdp) and the `__sk_buff` types — socket filter, sched_cls/sched_act,
 * cgroup_skb (bpf_prog_test_run_skb) — built on the contexts of src/vm/programs.
 *
 * - XDP: `ctx` (a `struct xdp_md`) may give the metadata length in `data` (the first bytes of
 *   `data` are the metadata), `ingress_ifindex` and `rx_queue_index`; `dataOut` is
 *   data_meta..data_end (metadata included), `ctxOut` the `xdp_md` with offsets from data_meta.
 * - skb: `ctx` (a `struct __sk_buff`) gives mark, priority, ingress_ifindex, cb, tstamp,
 *   wire_len, gso_segs, gso_size, hwtstamp. Programs that see the packet from the network header
 *   get it without its Ethernet header, and — as the kernel, which pushes and zeroes the header
 *   back after the run — `dataOut` starts with 14 zero bytes. `ctxOut` is `ctx` with the fields
 *   the kernel copies back (convert_skb_to___skb; gso_size is not among them: it stays as given).
 *
 * `ctxOut` is given when a `ctx` was (the kernel's default ctx_size_out is the input's size).
 */
import { EbpfError } from '../../errors.js';
import { ProgramType } from '../../object/uapi-types.js';
import { SK_BUFF_SIZE, decodeSkBuff, encodeSkBuff, type SkBuff } from '../programs/sk-buff.js';
import { SkbContext, type SkbOptions } from '../programs/skb.js';
import { XDP_MD, XDP_MD_SIZE, XdpContext, type XdpOptions } from '../programs/xdp.js';
import type { ContextModel, ContextModels } from './context.js';

const ETH_HLEN = 14;

function fail(program: { name: string }, why: string): never {
  throw new EbpfError(`test run program '${program.name}': ${why} (the kernel answers EINVAL)`);
}

/** Copies `ctx` into a zeroed struct of `size` bytes (a shorter ctx is zero-extended, as bpf_ctx_init). */
function structImage(ctx: Uint8Array | undefined, size: number, program: { name: string }, what: string): Uint8Array {
  const image = new Uint8Array(size);
  if (ctx === undefined) return image;
  if (ctx.length > size && ctx.subarray(size).some((b) => b !== 0)) fail(program, `${what} ctx of ${ctx.length} bytes has non-zero bytes past its ${size}`);
  image.set(ctx.subarray(0, size));
  return image;
}

/** BPF_PROG_TEST_RUN for XDP programs. */
export const xdpContextModel: ContextModel = (memory, input, program) => {
  const data = input.data ?? new Uint8Array(0);
  const options: XdpOptions = {};
  let packet = data;
  if (input.ctx !== undefined && input.ctx.length > 0) {
    const v = new DataView(structImage(input.ctx, XDP_MD_SIZE, program, 'xdp_md').buffer);
    const metaLength = v.getUint32(XDP_MD.data, true);
    if (v.getUint32(XDP_MD.data_meta, true) !== 0) fail(program, 'xdp_md.data_meta must be 0');
    if (v.getUint32(XDP_MD.data_end, true) !== data.length) fail(program, `xdp_md.data_end must be the data's size (${data.length})`);
    if (metaLength > data.length) fail(program, 'xdp_md.data is past the data');
    if (v.getUint32(XDP_MD.egress_ifindex, true) !== 0) fail(program, 'xdp_md.egress_ifindex must be 0');
    options.meta = data.slice(0, metaLength);
    // test_run: an ingress_ifindex of 0 leaves the frame on the loopback device's queue 0 (the context's default).
    const ingress = v.getUint32(XDP_MD.ingress_ifindex, true);
    if (ingress !== 0) options.ingressIfindex = ingress;
    options.rxQueueIndex = v.getUint32(XDP_MD.rx_queue_index, true);
    packet = data.subarray(metaLength);
  }
  let ctx: XdpContext;
  try {
    ctx = new XdpContext(memory, packet, options);
  } catch (err) {
    if (err instanceof RangeError) fail(program, err.message);
    throw err;
  }
  return {
    ctx: ctx.address,
    finish: () => {
      const back = ctx.readBack();
      const dataOut = new Uint8Array(back.meta.length + back.packet.length);
      dataOut.set(back.meta);
      dataOut.set(back.packet, back.meta.length);
      let ctxOut: Uint8Array | undefined;
      if (input.ctx !== undefined && input.ctx.length > 0) {
        ctxOut = new Uint8Array(XDP_MD_SIZE);
        const v = new DataView(ctxOut.buffer);
        v.setUint32(XDP_MD.data, back.ctx.data, true);
        v.setUint32(XDP_MD.data_end, back.ctx.data_end, true);
        v.setUint32(XDP_MD.data_meta, 0, true);
        v.setUint32(XDP_MD.ingress_ifindex, back.ctx.ingress_ifindex, true);
        v.setUint32(XDP_MD.rx_queue_index, back.ctx.rx_queue_index, true);
      }
      return { dataOut, ctxOut };
    },
    release: () => ctx.release(),
  };
};

/** The `__sk_buff` fields BPF_PROG_TEST_RUN takes from ctx_in (the rest must be zero there). */
function skbOptions(ctx: SkBuff): SkbOptions {
  return {
    mark: ctx.mark, priority: ctx.priority, ingressIfindex: ctx.ingress_ifindex, cb: ctx.cb, tstamp: ctx.tstamp,
    ...(ctx.wire_len === 0 ? {} : { wireLen: ctx.wire_len }),
    gsoSegs: ctx.gso_segs, gsoSize: ctx.gso_size, hwtstamp: ctx.hwtstamp,
  };
}

/** BPF_PROG_TEST_RUN for programs with a `struct __sk_buff` context. */
export const skbContextModel: ContextModel = (memory, input, program) => {
  const data = input.data ?? new Uint8Array(0);
  const hasCtx = input.ctx !== undefined && input.ctx.length > 0;
  const image = structImage(hasCtx ? input.ctx : undefined, SK_BUFF_SIZE, program, '__sk_buff');
  const fields = decodeSkBuff(image);
  let ctx: SkbContext;
  try {
    ctx = new SkbContext(memory, program.type, data, hasCtx ? skbOptions(fields) : {});
  } catch (err) {
    if (err instanceof RangeError) fail(program, err.message);
    throw err;
  }
  const l2 = ctx.macHeader.length === 0;
  return {
    ctx: ctx.address,
    packet: ctx.packet,
    finish: () => {
      const back = ctx.readBack();
      const push = l2 ? 0 : ETH_HLEN;
      const dataOut = new Uint8Array(push + back.packet.length);
      dataOut.set(back.packet, push);
      let ctxOut: Uint8Array | undefined;
      if (hasCtx) {
        const c = back.ctx;
        ctxOut = encodeSkBuff({
          mark: c.mark, priority: c.priority, ingress_ifindex: c.ingress_ifindex, ifindex: c.ifindex, tstamp: c.tstamp,
          cb: c.cb, wire_len: c.wire_len, gso_segs: c.gso_segs, gso_size: fields.gso_size, hwtstamp: c.hwtstamp,
        }, image.slice());
      }
      return { dataOut, ctxOut };
    },
    release: () => ctx.release(),
  };
};

/** The packet program types' models, by `ProgramType.*`. */
export const packetContextModels: ContextModels = new Map<number, ContextModel>([
  [ProgramType.XDP, xdpContextModel],
  [ProgramType.SOCKET_FILTER, skbContextModel],
  [ProgramType.SCHED_CLS, skbContextModel],
  [ProgramType.SCHED_ACT, skbContextModel],
  [ProgramType.CGROUP_SKB, skbContextModel],
  // The kernel test-runs LWT programs as cgroup_skb ones (bpf_prog_test_run_skb): data from the network header.
  [ProgramType.LWT_IN, skbContextModel],
  [ProgramType.LWT_OUT, skbContextModel],
  [ProgramType.LWT_XMIT, skbContextModel],
]);
