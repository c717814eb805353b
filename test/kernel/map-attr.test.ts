/**
 * Map and perf-event structures as the kernel reads them, without a kernel: a fake syscall
 * layer records each bpf() call, answers BPF_OBJ_GET_INFO_BY_FD, and the test checks the bytes
 * at the offsets of include/uapi/linux/bpf.h and perf_event.h.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  Command, MapSizeError, MapType, PerfAttrFlag, PerfSample, PerfSoftwareConfig, PerfType, UpdateFlag, createMap,
  perfEventAttr, type OutputBuffer, type Syscalls, type UserMemory,
} from '../../src/kernel/index.js';

interface Call { cmd: number; attr: DataView; blocks: Map<bigint, Uint8Array> }

/** Syscalls whose bpf() is `kernel`; OBJ_GET_INFO_BY_FD answers with a hash map's info. */
function fake(kernel: (call: Call) => number): Syscalls & { calls: Call[] } {
  const calls: Call[] = [];
  let blocks = new Map<bigint, Uint8Array>();
  let next = 0x1000n;
  const memory: UserMemory = {
    input(bytes) {
      return this.output(bytes.length, bytes).address;
    },
    output(size, init): OutputBuffer {
      const block = new Uint8Array(size);
      if (init) block.set(init);
      const address = next;
      next += BigInt(size + 64);
      blocks.set(address, block);
      return { address, size, read: () => block.slice() };
    },
  };
  return {
    calls,
    bpf(cmd, attr) {
      const call = { cmd, attr: new DataView(attr.buffer, attr.byteOffset, attr.byteLength), blocks };
      calls.push(call);
      if (cmd === Command.OBJ_GET_INFO_BY_FD) {
        const info = new DataView(blocks.get(call.attr.getBigUint64(8, true))!.buffer);
        info.setUint32(0, MapType.HASH, true); // type
        info.setUint32(4, 77, true); // id
        info.setUint32(8, 4, true); // key_size
        info.setUint32(12, 8, true); // value_size
        info.setUint32(16, 16, true); // max_entries
        return 0;
      }
      return kernel(call);
    },
    close: () => 0,
    withMemory(use) {
      blocks = new Map();
      return use(memory);
    },
  };
}

describe('bpf_attr for maps', () => {
  it('BPF_MAP_CREATE: every field where the UAPI puts it', () => {
    const sys = fake(({ cmd, attr }) => {
      assert.equal(cmd, Command.MAP_CREATE);
      assert.equal(attr.byteLength, 96);
      assert.equal(attr.getUint32(0, true), MapType.HASH);
      assert.equal(attr.getUint32(4, true), 4);
      assert.equal(attr.getUint32(8, true), 8);
      assert.equal(attr.getUint32(12, true), 16);
      assert.equal(attr.getUint32(16, true), 1);
      assert.equal(attr.getUint32(20, true), 9); // inner_map_fd
      assert.equal(attr.getUint32(24, true), 2); // numa_node
      assert.equal(new TextDecoder().decode(new Uint8Array(attr.buffer, attr.byteOffset + 28, 5)), 'named');
      assert.equal(attr.getUint8(28 + 5), 0);
      assert.equal(attr.getUint32(44, true), 3); // map_ifindex
      assert.equal(attr.getUint32(48, true), 10); // btf_fd
      assert.equal(attr.getUint32(52, true), 11);
      assert.equal(attr.getUint32(56, true), 12);
      assert.equal(attr.getUint32(60, true), 13);
      assert.equal(attr.getBigUint64(64, true), 0x1234n); // map_extra
      return 42;
    });
    using map = createMap({
      type: MapType.HASH, keySize: 4, valueSize: 8, maxEntries: 16, flags: 1, innerMapFd: 9, numaNode: 2,
      name: 'named', mapIfindex: 3, btfFd: 10, btfKeyTypeId: 11, btfValueTypeId: 12, btfVmlinuxValueTypeId: 13,
      mapExtra: 0x1234n, syscalls: sys,
    });
    assert.equal(map.fd, 42);
    assert.equal(map.id, 77);
  });

  it('BPF_MAP_UPDATE_ELEM: fd, key and value pointers, flags; sizes checked before the call', () => {
    const sys = fake(({ cmd, attr, blocks }) => {
      if (cmd === Command.MAP_CREATE) return 5;
      assert.equal(cmd, Command.MAP_UPDATE_ELEM);
      assert.equal(attr.byteLength, 32);
      assert.equal(attr.getUint32(0, true), 5);
      assert.deepEqual(blocks.get(attr.getBigUint64(8, true)), new Uint8Array([1, 2, 3, 4]));
      assert.deepEqual(blocks.get(attr.getBigUint64(16, true)), new Uint8Array(8).fill(9));
      assert.equal(attr.getBigUint64(24, true), BigInt(UpdateFlag.NOEXIST));
      return 0;
    });
    using map = createMap({ type: MapType.HASH, keySize: 4, valueSize: 8, maxEntries: 16, syscalls: sys });
    map.update(new Uint8Array([1, 2, 3, 4]), new Uint8Array(8).fill(9), UpdateFlag.NOEXIST);
    const before = sys.calls.length;
    assert.throws(() => map.update(new Uint8Array(3), new Uint8Array(8)), MapSizeError);
    assert.throws(() => map.lookup(new Uint8Array(5)), MapSizeError);
    assert.equal(sys.calls.length, before);
  });
});

describe('perf_event_attr', () => {
  it('puts the fields where perf_event.h does', () => {
    const bytes = perfEventAttr({
      type: PerfType.SOFTWARE, config: PerfSoftwareConfig.BPF_OUTPUT, samplePeriod: 1, sampleType: PerfSample.RAW,
      flags: PerfAttrFlag.WATERMARK | PerfAttrFlag.DISABLED, wakeupEvents: 4096, config1: 7n, config2: 8n,
    });
    const view = new DataView(bytes.buffer);
    assert.equal(bytes.length, 136); // PERF_ATTR_SIZE_VER8
    assert.equal(view.getUint32(0, true), 1);
    assert.equal(view.getUint32(4, true), 136);
    assert.equal(view.getBigUint64(8, true), 10n);
    assert.equal(view.getBigUint64(16, true), 1n);
    assert.equal(view.getBigUint64(24, true), 1n << 10n);
    assert.equal(view.getBigUint64(40, true), (1n << 14n) | 1n);
    assert.equal(view.getUint32(48, true), 4096);
    assert.equal(view.getBigUint64(56, true), 7n);
    assert.equal(view.getBigUint64(64, true), 8n);
  });
});
