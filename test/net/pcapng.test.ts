import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ParseError } from '../../src/errors.js';
import {
  LinkType, PcapReader, PcapngBlock, PcapngReader, concatBytes, readCapture, toNanoseconds, writePcapng,
} from '../../src/net/index.js';

const tcpdump = spawnSync('tcpdump', ['--version']).status === 0 ? 'tcpdump' : undefined;

/** A block of `type` around `body` (test-side encoder, independent of the writer). */
function block(type: number, body: Uint8Array, le = true): Uint8Array {
  const padded = new Uint8Array((body.length + 3) & ~3);
  padded.set(body);
  const out = new Uint8Array(12 + padded.length);
  const v = new DataView(out.buffer);
  v.setUint32(0, type, le);
  v.setUint32(4, out.length, le);
  out.set(padded, 8);
  v.setUint32(out.length - 4, out.length, le);
  return out;
}
function words(le: boolean, ...fields: Array<[number, 2 | 4]>): Uint8Array {
  const out = new Uint8Array(fields.reduce((n, [, s]) => n + s, 0));
  const v = new DataView(out.buffer);
  let at = 0;
  for (const [value, size] of fields) {
    if (size === 2) v.setUint16(at, value, le); else v.setUint32(at, value, le);
    at += size;
  }
  return out;
}
const shb = (le = true): Uint8Array => block(PcapngBlock.SECTION_HEADER, concatBytes([words(le, [0x1a2b3c4d, 4], [1, 2], [0, 2]), new Uint8Array(8).fill(0xff)]), le);
const idb = (linkType: number, snaplen: number, le = true, options: Uint8Array = new Uint8Array(0)): Uint8Array =>
  block(PcapngBlock.INTERFACE_DESCRIPTION, concatBytes([words(le, [linkType, 2], [0, 2], [snaplen, 4]), options]), le);
const tsresolOption = (value: number, le = true): Uint8Array => concatBytes([words(le, [9, 2], [1, 2]), Uint8Array.of(value, 0, 0, 0), words(le, [0, 2], [0, 2])]);
const bytes = (n: number, seed: number): Uint8Array => Uint8Array.from({ length: n }, (_, i) => (i * 31 + seed) & 0xff);

describe('pcapng', () => {
  it('writes and reads back several interfaces in both byte orders', () => {
    const packets = [
      { data: bytes(60, 1), timestamp: 1_700_000_000_000_000_001n, interface: 0 },
      { data: bytes(1500, 2), timestamp: 1_700_000_000_500_000_000n, interface: 1, origLen: 9000 },
      { data: bytes(61, 3), timestamp: 1_700_000_001_999_999_999n, interface: 2 },
    ];
    for (const littleEndian of [true, false]) {
      const file = writePcapng(packets, {
        littleEndian, application: 'ebpf tests',
        interfaces: [{ name: 'eth0' }, { linkType: LinkType.RAW, snaplen: 128, tsresol: 6 }, { tsresol: 0x80 | 30 }],
      });
      const reader = readCapture(file);
      assert.ok(reader instanceof PcapngReader);
      const back = [...reader];
      assert.deepEqual(reader.sections.map((s) => s.littleEndian), [littleEndian]);
      assert.deepEqual(reader.interfaces.map((i) => [i.name, i.linkType, i.snaplen, i.tsresol]), [['eth0', 1, 0, 9], [undefined, 101, 128, 6], [undefined, 1, 0, 0x80 | 30]]);
      assert.equal(back[0]!.timestamp, packets[0]!.timestamp);
      assert.equal(back[1]!.timestamp, 1_700_000_000_500_000_000n);
      assert.equal(back[1]!.linkType, LinkType.RAW);
      assert.equal(back[1]!.origLen, 9000);
      assert.deepEqual(back[1]!.data, packets[1]!.data.subarray(0, 128));
      // 2^-30 s units: within a nanosecond, never later.
      assert.ok(packets[2]!.timestamp - back[2]!.timestamp <= 1n && back[2]!.timestamp <= packets[2]!.timestamp);
      assert.deepEqual(back.map((p) => p.interface), [0, 1, 2]);
    }
  });

  it('converts if_tsresol units (powers of ten and of two) and if_tsoffset', () => {
    assert.equal(toNanoseconds(5n, 6), 5000n);
    assert.equal(toNanoseconds(5n, 9), 5n);
    assert.equal(toNanoseconds(123456n, 12), 123n);
    assert.equal(toNanoseconds(3n, 0), 3_000_000_000n);
    assert.equal(toNanoseconds(1n << 20n, 0x80 | 20), 1_000_000_000n);
    assert.equal(toNanoseconds(1n, 0x80 | 1, 10n), 10_500_000_000n);
  });

  it('reads Simple and obsolete Packet Blocks, skips other blocks, and restarts interfaces per section', () => {
    for (const le of [true, false]) {
      const spb = block(PcapngBlock.SIMPLE_PACKET, concatBytes([words(le, [100, 4]), bytes(100, 9)]), le);
      const opb = block(PcapngBlock.OBSOLETE_PACKET, concatBytes([words(le, [0, 2], [0, 2], [0, 4], [2_000_000, 4], [10, 4], [10, 4]), bytes(10, 7)]), le);
      const nrb = block(PcapngBlock.NAME_RESOLUTION, new Uint8Array(4), le);
      const custom = block(0x00000bad, bytes(5, 0), le);
      const file = concatBytes([
        shb(le), idb(LinkType.ETHERNET, 64, le), nrb, spb, opb, custom,
        shb(!le), idb(LinkType.RAW, 0, !le, tsresolOption(3, !le)),
        block(PcapngBlock.ENHANCED_PACKET, concatBytes([words(!le, [0, 4], [0, 4], [1500, 4], [3, 4], [3, 4]), bytes(3, 1)]), !le),
      ]);
      const reader = new PcapngReader(file);
      const packets = [...reader];
      assert.equal(packets.length, 3);
      assert.equal(packets[0]!.data.length, 64, 'an SPB is cut to the interface snaplen');
      assert.equal(packets[0]!.origLen, 100);
      assert.deepEqual(packets[1]!.data, bytes(10, 7));
      assert.equal(packets[1]!.timestamp, 2_000_000_000n);
      assert.equal(packets[2]!.interface, 1, 'interface ids restart in a new section; the index is global');
      assert.equal(packets[2]!.linkType, LinkType.RAW);
      assert.equal(packets[2]!.timestamp, 1_500_000_000n);
      assert.deepEqual(reader.sections.map((s) => s.littleEndian), [le, !le]);
    }
  });

  it('throws ParseError with the byte offset on malformed files', () => {
    const good = writePcapng([{ data: bytes(20, 1) }]);
    const shbLen = shb().length;
    const epbAt = good.length - (12 + 20 + 20);
    const set32 = (b: Uint8Array, at: number, value: number): Uint8Array => {
      const copy = b.slice();
      new DataView(copy.buffer).setUint32(at, value, true);
      return copy;
    };
    const cases: Array<[string, Uint8Array, number]> = [
      ['cut block', good.subarray(0, good.length - 2), epbAt],
      ['cut block header', concatBytes([good, new Uint8Array(8)]), good.length],
      ['length not a multiple of 4', set32(good, epbAt + 4, 53), epbAt + 4],
      ['trailer differs', set32(good, good.length - 4, 48), good.length - 4],
      ['unknown interface', set32(good, epbAt + 8, 3), epbAt],
      ['captured length overruns the block', set32(good, epbAt + 8 + 12, 200), epbAt + 8 + 12],
      ['bad byte-order magic', set32(good, 8, 0x11223344), 8],
      ['packet before any interface', concatBytes([shb(), good.subarray(epbAt)]), shbLen],
      ['option overruns its block', concatBytes([shb(), idb(1, 0, true, words(true, [2, 2], [200, 2]))]), shbLen + 16],
      ['bad if_tsresol', concatBytes([shb(), idb(1, 0, true, tsresolOption(99))]), shbLen + 16],
    ];
    assert.throws(() => new PcapngReader(new Uint8Array(4)), ParseError);
    for (const [what, file, offset] of cases) {
      assert.throws(() => [...new PcapngReader(file)], (err: unknown) => err instanceof ParseError && err.offset === offset, `${what}: ${(() => { try { [...new PcapngReader(file)]; return 'no error'; } catch (e) { return (e as Error).message; } })()}`);
    }
  });

  it('writes files tcpdump reads the same way', { skip: tcpdump ? false : 'tcpdump not installed' }, () => {
    const dir = mkdtempSync(join(tmpdir(), 'ebpf-pcapng-'));
    try {
      const packets = [0, 1, 2, 3].map((i) => ({ data: bytes(40 + i, i), timestamp: 1_600_000_000_000_000_000n + BigInt(i) * 1234567n, interface: i % 2 }));
      for (const littleEndian of [true, false]) {
        const path = join(dir, `f${littleEndian}.pcapng`);
        writeFileSync(path, writePcapng(packets, { littleEndian, interfaces: [{ tsresol: 9 }, { tsresol: 6 }] }));
        const out = join(dir, `f${littleEndian}.pcap`);
        const r = spawnSync(tcpdump!, ['-r', path, '-w', out, '--time-stamp-precision=nano'], { encoding: 'utf8' });
        assert.equal(r.status, 0, r.stderr);
        const copy = [...new PcapReader(new Uint8Array(readFileSync(out)))];
        assert.deepEqual(copy.map((p) => [p.timestamp, Buffer.from(p.data).toString('hex')]),
          packets.map((p) => [p.interface === 1 ? p.timestamp / 1000n * 1000n : p.timestamp, Buffer.from(p.data).toString('hex')]));
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
