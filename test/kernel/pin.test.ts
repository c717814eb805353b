/**
 * Pinning, ids, object info and BTF loading against the running kernel. Pins live only under a
 * per-test directory of /sys/fs/bpf that each test removes.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { parseBtf } from '../../src/btf/parse.js';
import { serializeBtf } from '../../src/btf/serialize.js';
import { join } from 'node:path';
import { assemble, encodeProgram } from '../../src/isa/index.js';
import {
  KernelError, MapType, PinTypeError, ProgramType, btfIds, createMap, enableStats, getBtfById, getMapById,
  getProgramById, isNotExist, loadBtf, loadProgram, mapIds, mapInfo, objectKind, openPinned, openPinnedMap,
  openPinnedProgram, pinObject, programIds, programInfo, testRun, unpin,
} from '../../src/kernel/index.js';
import { kernelSkip } from '../support/kernel.js';

const openFds = (): number => readdirSync('/proc/self/fd').length;

/** A fresh directory in bpffs for one test; removed (with any pins left in it) by `using`. */
function pinDir(): { path: string } & Disposable {
  const path = join('/sys/fs/bpf', `ebpf-test-${process.pid}-${Math.random().toString(36).slice(2, 10)}`);
  mkdirSync(path);
  return { path, [Symbol.dispose]: () => rmSync(path, { recursive: true, force: true }) };
}

/** A program that uses `mapFd` (a lookup in it), so its info lists the map. */
function programUsing(mapFd: number, name = 'uses_map'): ReturnType<typeof loadProgram> {
  const text = `
    r1 = 0
    *(u32 *)(r10 - 4) = r1
    r2 = r10
    r2 += -4
    ld_pseudo r1, 1, ${mapFd}
    call 1
    r0 = 0
    exit`;
  return loadProgram({ type: ProgramType.SOCKET_FILTER, license: 'GPL', name, instructions: encodeProgram(assemble(text)) });
}

const BTF_KIND = { INT: 1, STRUCT: 4 } as const;

/**
 * Raw BTF for `int` [1], `unsigned long long` [2] and `struct val { unsigned long long cnt; }` [3]
 * (include/uapi/linux/btf.h), written by hand so the test needs nothing but the kernel.
 * `badMember` points the member at a type that does not exist.
 */
function rawBtf(options: { badMember?: boolean } = {}): Uint8Array {
  const strings = ['', 'int', 'unsigned long long', 'val', 'cnt'];
  const offsets: number[] = [];
  let at = 0;
  for (const s of strings) {
    offsets.push(at);
    at += s.length + 1;
  }
  const strBytes = new TextEncoder().encode(strings.join('\0') + '\0');
  const info = (kind: number, vlen: number): number => ((kind << 24) | vlen) >>> 0;
  const types = new Uint32Array([
    offsets[1]!, info(BTF_KIND.INT, 0), 4, (1 << 24) | 32, // [1] int: signed, 32 bits
    offsets[2]!, info(BTF_KIND.INT, 0), 8, 64, // [2] unsigned long long
    offsets[3]!, info(BTF_KIND.STRUCT, 1), 8, // [3] struct val, 1 member
    offsets[4]!, options.badMember ? 99 : 2, 0, // cnt: type [2], bit offset 0
  ]);
  const typeBytes = new Uint8Array(types.buffer);
  const header = new DataView(new ArrayBuffer(24));
  header.setUint16(0, 0xeb9f, true);
  header.setUint8(2, 1);
  header.setUint32(4, 24, true);
  header.setUint32(8, 0, true);
  header.setUint32(12, typeBytes.length, true);
  header.setUint32(16, typeBytes.length, true);
  header.setUint32(20, strBytes.length, true);
  const out = new Uint8Array(24 + typeBytes.length + strBytes.length);
  out.set(new Uint8Array(header.buffer));
  out.set(typeBytes, 24);
  out.set(strBytes, 24 + typeBytes.length);
  return out;
}

describe('kernel pins, ids and info', { skip: kernelSkip() }, () => {
  it('pins a map and a program and opens them again by path, checking the kind and type', () => {
    using dir = pinDir();
    using map = createMap({ type: MapType.HASH, keySize: 4, valueSize: 4, maxEntries: 4, name: 'pinned' });
    using program = programUsing(map.fd, 'pinned_prog');
    const mapPath = join(dir.path, 'map');
    const progPath = join(dir.path, 'prog');
    map.pin(mapPath);
    pinObject(program, progPath);
    assert.equal(objectKind(map.fd), 'map');
    assert.equal(objectKind(program.fd), 'program');

    using again = openPinnedMap(mapPath, { expectedType: MapType.HASH });
    assert.equal(again.id, map.id);
    assert.equal(again.name, 'pinned');
    again.update(new Uint8Array(4), new Uint8Array([1, 2, 3, 4]));
    assert.deepEqual(map.lookup(new Uint8Array(4)), new Uint8Array([1, 2, 3, 4]));

    using prog = openPinnedProgram(progPath, { expectedType: ProgramType.SOCKET_FILTER });
    assert.equal(prog.name, 'pinned_prog');
    assert.equal(programInfo(prog.fd).id, programInfo(program.fd).id);

    assert.throws(() => openPinnedMap(mapPath, { expectedType: MapType.ARRAY }), PinTypeError);
    assert.throws(() => openPinnedMap(progPath), /a program, not a map/);
    assert.throws(() => openPinnedProgram(mapPath), PinTypeError);
    assert.throws(() => openPinnedProgram(progPath, { expectedType: ProgramType.XDP }), /BPF_PROG_TYPE_SOCKET_FILTER, not a BPF_PROG_TYPE_XDP/);
    const raw = openPinned(mapPath);
    assert.equal(raw.kind, 'map');
    map.syscalls.close(raw.fd);

    unpin(mapPath);
    assert.equal(existsSync(mapPath), false);
    const missing = (() => {
      try {
        openPinnedMap(mapPath);
      } catch (err) {
        return err;
      }
      return undefined;
    })();
    assert.ok(isNotExist(missing), String(missing));
    assert.throws(() => map.pin(join(dir.path, 'no-such-dir', 'map')), KernelError);
  });

  it('lists ids and opens maps and programs by id', () => {
    using map = createMap({ type: MapType.ARRAY, keySize: 4, valueSize: 4, maxEntries: 1, name: 'by_id' });
    using program = programUsing(map.fd, 'by_id_prog');
    const progId = programInfo(program.fd).id;
    assert.ok([...mapIds()].includes(map.id));
    assert.ok([...programIds()].includes(progId));
    using m = getMapById(map.id);
    assert.equal(m.name, 'by_id');
    assert.equal(m.type, MapType.ARRAY);
    using p = getProgramById(progId);
    assert.equal(p.name, 'by_id_prog');
    assert.equal(p.type, ProgramType.SOCKET_FILTER);
    assert.throws(() => getMapById(0x7fff_fff0), (err: unknown) => isNotExist(err));
  });

  it('describes a program: type, name, tag, lengths, map ids, instructions and run statistics', () => {
    using map = createMap({ type: MapType.ARRAY, keySize: 4, valueSize: 4, maxEntries: 1 });
    using program = programUsing(map.fd, 'described');
    const info = programInfo(program.fd, { xlated: true, jited: true });
    assert.equal(info.type, ProgramType.SOCKET_FILTER);
    assert.equal(info.name, 'described');
    assert.match(info.tag, /^[0-9a-f]{16}$/);
    assert.deepEqual(info.mapIds, [map.id]);
    assert.ok(info.xlatedLength >= 8 * 8, `xlated ${info.xlatedLength}`);
    assert.equal(info.xlated?.length, info.xlatedLength);
    assert.equal(info.jited?.length, info.jitedLength);
    assert.equal(info.gplCompatible, true);
    assert.ok(info.verifiedInsns > 0);
    assert.ok(info.loadTime > 0n);
    assert.equal(info.createdByUid, process.getuid?.());

    {
      using stats = enableStats();
      assert.ok(stats.fd > 2);
      testRun(program, { data: new Uint8Array(64), repeat: 25 });
    }
    const after = programInfo(program.fd);
    assert.ok(after.runCount >= 25n, `run count ${after.runCount}`);
    assert.ok(after.runTimeNs > 0n);
  });

  it('leaks no fds', () => {
    const before = openFds();
    for (let i = 0; i < 20; i++) {
      using map = createMap({ type: MapType.ARRAY, keySize: 4, valueSize: 4, maxEntries: 1 });
      using again = getMapById(map.id);
      using program = programUsing(map.fd);
      using byId = getProgramById(programInfo(program.fd).id);
      assert.deepEqual(programInfo(byId.fd).mapIds, [map.id]);
      mapInfo(again.fd);
    }
    assert.equal(openFds(), before);
  });
});

describe('kernel BTF loading', { skip: kernelSkip() }, () => {
  it('loads raw BTF, describes it, and gives map key and value types', () => {
    const bytes = rawBtf();
    using btf = loadBtf(bytes);
    assert.ok(btf.fd > 2);
    assert.ok(btf.id > 0);
    const info = btf.info({ data: true });
    assert.equal(info.id, btf.id);
    assert.equal(info.kernelBtf, false);
    assert.equal(info.name, '');
    assert.equal(info.size, bytes.length);
    assert.deepEqual(info.data, bytes);
    assert.ok([...btfIds()].includes(btf.id));
    using again = getBtfById(btf.id);
    assert.equal(again.info().id, btf.id);

    using map = createMap({
      type: MapType.HASH, keySize: 4, valueSize: 8, maxEntries: 4, name: 'btf_map',
      btfFd: btf.fd, btfKeyTypeId: 1, btfValueTypeId: 3,
    });
    assert.equal(map.info.btfId, btf.id);
    assert.equal(map.info.btfKeyTypeId, 1);
    assert.equal(map.info.btfValueTypeId, 3);
    // A value type of the wrong size is refused.
    assert.throws(() => createMap({ type: MapType.HASH, keySize: 4, valueSize: 4, maxEntries: 4, btfFd: btf.fd, btfKeyTypeId: 1, btfValueTypeId: 3 }), KernelError);
  });

  it('returns the kernel BTF log when BTF is refused, and with a log level asked for', () => {
    const err = (() => {
      try {
        loadBtf(rawBtf({ badMember: true }));
      } catch (e) {
        return e;
      }
      return undefined;
    })();
    assert.ok(err instanceof KernelError, String(err));
    assert.equal(err.code, 'EINVAL');
    assert.ok(err.log && err.log.length > 0);
    assert.match(err.message, /^load BTF: EINVAL \(Invalid argument\): .*(Invalid member|Invalid type_id)/);
    using btf = loadBtf(rawBtf(), { logLevel: 1, logSize: 16 });
    assert.match(btf.log, /STRUCT val/);
  });

  it('loads the kernel\'s vmlinux BTF after a parse and serialize round trip', () => {
    const raw = readFileSync('/sys/kernel/btf/vmlinux');
    const bytes = serializeBtf(parseBtf(raw));
    using btf = loadBtf(bytes);
    const info = btf.info();
    assert.equal(info.size, bytes.length);
    assert.equal(info.kernelBtf, false);
  });

  it('opens the kernel\'s own BTF by id', () => {
    const vmlinux = [...btfIds()].map((id) => {
      using btf = getBtfById(id);
      return btf.info();
    }).find((info) => info.name === 'vmlinux');
    assert.ok(vmlinux, 'no vmlinux BTF');
    assert.equal(vmlinux.kernelBtf, true);
    assert.ok(vmlinux.size > 1 << 20);
  });
});
