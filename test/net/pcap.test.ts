import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ParseError } from '../../src/errors.js';
import {
  LinkType, PcapReader, buildPacket, ethernet, ipv4, parsePacket, readCapture, udp, writePcap, type CapturedPacket,
} from '../../src/net/index.js';
import { repoRoot } from '../support/shared.js';

const fixture = (name: string): Uint8Array => new Uint8Array(readFileSync(join(repoRoot, 'test', 'net', 'fixtures', name)));
const tcpdump = spawnSync('tcpdump', ['--version']).status === 0 ? 'tcpdump' : undefined;

function sample(n: number): Array<{ data: Uint8Array; timestamp: bigint }> {
  return Array.from({ length: n }, (_, i) => ({
    data: buildPacket([ethernet(), ipv4({ src: '10.0.0.1', dst: `10.0.0.${i + 2}` }), udp({ srcPort: 1000 + i, dstPort: 53 })], new Uint8Array(i * 7)),
    timestamp: 1_700_000_000_123_456_789n + BigInt(i) * 1_000_001n,
  }));
}

describe('pcap', () => {
  it('reads what tcpdump captured (microsecond and nanosecond files, snaplen)', () => {
    const us = [...new PcapReader(fixture('lo-us.pcap'))];
    const nsReader = new PcapReader(fixture('lo-ns.pcap'));
    const ns = [...nsReader];
    assert.equal(us.length, 6);
    assert.equal(ns.length, 6);
    assert.equal(nsReader.header.nanosecond, true);
    assert.equal(nsReader.header.snaplen, 96);
    assert.equal(nsReader.header.linkType, LinkType.ETHERNET);
    for (let i = 0; i < 6; i++) {
      const [a, b] = [us[i]!, ns[i]!];
      assert.equal(a.timestamp, b.timestamp / 1000n * 1000n, 'the same instant at two precisions');
      assert.equal(a.origLen, b.origLen);
      assert.equal(a.data.length, a.origLen);
      assert.equal(b.data.length, Math.min(96, b.origLen));
      assert.deepEqual(b.data, a.data.subarray(0, 96));
    }
    const first = parsePacket(us[0]!.data);
    assert.deepEqual(first.headers.map((h) => h.kind), ['ethernet', 'ipv4', 'udp']);
    const u = first.headers[2];
    assert.ok(u?.kind === 'udp' && u.dstPort === 9999 && u.length === 208);
    assert.deepEqual(parsePacket(us[2]!.data).headers.map((h) => h.kind), ['ethernet', 'ipv6', 'udp']);
    assert.equal(parsePacket(ns[0]!.data).truncated, true);
  });

  it('writes and reads back both byte orders and both precisions', () => {
    const packets = sample(5);
    for (const littleEndian of [true, false]) {
      for (const nanosecond of [true, false]) {
        const file = writePcap(packets, { littleEndian, nanosecond, snaplen: 60 });
        const reader = readCapture(file);
        assert.ok(reader instanceof PcapReader);
        assert.equal(reader.header.littleEndian, littleEndian);
        const back = [...reader];
        assert.equal(back.length, packets.length);
        back.forEach((p, i) => {
          const want = packets[i]!;
          assert.equal(p.timestamp, nanosecond ? want.timestamp : want.timestamp / 1000n * 1000n);
          assert.deepEqual(p.data, want.data.subarray(0, 60));
          assert.equal(p.origLen, want.data.length);
        });
      }
    }
  });

  it('keeps any link type and FCS bits of the header', () => {
    const file = writePcap([{ data: Uint8Array.of(0x45) }], { linkType: LinkType.LINUX_SLL2 });
    new DataView(file.buffer).setUint32(20, 0x04000000 | (2 << 28) | 147, true); // LINKTYPE_USER0 with a 4-byte FCS
    const reader = new PcapReader(file);
    assert.equal(reader.header.linkType, 147);
    assert.equal(reader.header.fcsLength, 4);
    assert.equal([...reader][0]!.linkType, 147);
  });

  it('throws ParseError with the byte offset on truncated and malformed files', () => {
    const file = writePcap(sample(2));
    const firstLen = 16 + sample(1)[0]!.data.length;
    const cases: Array<[string, Uint8Array, number]> = [
      ['empty', new Uint8Array(0), 0],
      ['short header', file.subarray(0, 20), 0],
      ['bad magic', Uint8Array.from([1, 2, 3, 4, ...file.subarray(4)]), 0],
      ['cut record header', file.subarray(0, 24 + firstLen + 10), 24 + firstLen],
      ['cut record data', file.subarray(0, file.length - 1), 24 + firstLen],
    ];
    const huge = file.slice();
    new DataView(huge.buffer).setUint32(24 + 8, 0x7fffffff, true);
    cases.push(['absurd record length', huge, 24 + 8]);
    const v3 = file.slice();
    new DataView(v3.buffer).setUint16(4, 3, true);
    cases.push(['unknown version', v3, 4]);
    for (const [what, bytes, offset] of cases) {
      assert.throws(() => [...new PcapReader(bytes)], (err: unknown) => err instanceof ParseError && err.offset === offset, what);
    }
  });

  it('writes files tcpdump reads the same way', { skip: tcpdump ? false : 'tcpdump not installed' }, () => {
    const dir = mkdtempSync(join(tmpdir(), 'ebpf-pcap-'));
    try {
      const packets = sample(3);
      for (const littleEndian of [true, false]) {
        const path = join(dir, `be${littleEndian}.pcap`);
        writeFileSync(path, writePcap(packets, { littleEndian, nanosecond: true }));
        // libpcap rewrites the file in host order with nanosecond stamps: it must hold the same packets.
        const out = join(dir, `copy${littleEndian}.pcap`);
        const r = spawnSync(tcpdump!, ['-r', path, '-w', out, '--time-stamp-precision=nano'], { encoding: 'utf8' });
        assert.equal(r.status, 0, r.stderr);
        const copy: CapturedPacket[] = [...new PcapReader(new Uint8Array(readFileSync(out)))];
        assert.deepEqual(copy.map((p) => [p.timestamp, Buffer.from(p.data).toString('hex')]), packets.map((p) => [p.timestamp, Buffer.from(p.data).toString('hex')]));
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
