import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  EtherType, IpProtocol, LinkType, TcpFlag, arp, buildPacket, ethernet, icmp, icmpv6, internetChecksum, ipv4, ipv6,
  parsePacket, tcp, udp, vlan,
} from '../../src/net/index.js';

const MACS = { src: '02:00:00:00:00:01', dst: '02:00:00:00:00:02' };
const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');

describe('packet builder and parser', () => {
  it('builds a UDP/IPv4 frame with the right fields and checksums', () => {
    const frame = buildPacket([ethernet(MACS), ipv4({ src: '10.0.0.1', dst: '10.0.0.2', id: 0x1c46, flags: 2 }), udp({ srcPort: 1234, dstPort: 53 })], 'hello');
    assert.equal(frame.length, 14 + 20 + 8 + 5);
    assert.equal(hex(frame.subarray(0, 14)), '020000000002020000000001' + '0800');
    // IPv4: version/ihl 45, total length 33, id, DF, ttl 64, proto 17.
    assert.equal(hex(frame.subarray(14, 24)), '4500002' + '1' + '1c46' + '4000' + '4011');
    assert.equal(internetChecksum(frame.subarray(14, 34)), 0, 'a header with its checksum sums to 0xffff');
    const parsed = parsePacket(frame);
    assert.deepEqual(parsed.headers.map((h) => h.kind), ['ethernet', 'ipv4', 'udp']);
    const [, ip, u] = parsed.headers;
    assert.ok(ip?.kind === 'ipv4' && ip.checksumValid && ip.totalLength === 33 && ip.protocol === IpProtocol.UDP);
    assert.ok(u?.kind === 'udp' && u.checksumValid === true && u.length === 13);
    assert.equal(new TextDecoder().decode(parsed.payload), 'hello');
    assert.equal(parsed.error, undefined);
  });

  it('matches a known UDP checksum (RFC 1071 arithmetic, hand-checked packet)', () => {
    // 192.0.2.1:4660 -> 192.0.2.2:80, payload "abcd": pseudo header + header + data summed by hand.
    const frame = buildPacket([ipv4({ src: '192.0.2.1', dst: '192.0.2.2' }), udp({ srcPort: 0x1234, dstPort: 80 })], 'abcd');
    const sum = 0xc000 + 0x0201 + 0xc000 + 0x0202 + 17 + 12 + 0x1234 + 80 + 12 + 0x6162 + 0x6364;
    const folded = (sum & 0xffff) + (sum >>> 16);
    assert.equal(new DataView(frame.buffer).getUint16(26), ~folded & 0xffff);
  });

  it('round-trips every header kind: parse then build gives the same bytes', () => {
    const frames = [
      buildPacket([ethernet(MACS), vlan({ id: 100, pcp: 5 }), ipv4({ src: '10.1.1.1', dst: '10.1.1.2', options: Uint8Array.of(1, 1, 1, 0) }),
        tcp({ srcPort: 40000, dstPort: 443, seq: 0xdeadbeef, ack: 1, flags: TcpFlag.SYN | TcpFlag.ACK, options: Uint8Array.of(2, 4, 5, 0xb4) })], 'payload'),
      buildPacket([ethernet(MACS), vlan({ tpid: EtherType.QINQ, id: 7 }), vlan({ id: 8, dei: true }), ipv6({ src: 'fe80::1', dst: 'ff02::1', flowLabel: 0x12345, trafficClass: 0xb8 }),
        icmpv6({ type: 128, id: 1, sequence: 2 })], 'ping'),
      buildPacket([ethernet(MACS), ipv4({ src: '1.1.1.1', dst: '2.2.2.2' }), icmp({ type: 8, id: 0x42, sequence: 7 })], new Uint8Array(32)),
      buildPacket([ethernet({ ...MACS, dst: 'ff:ff:ff:ff:ff:ff' }), arp({ operation: 1, senderMac: MACS.src, senderIp: '10.0.0.1', targetIp: '10.0.0.2' })]),
      buildPacket([ethernet(MACS), ipv6({ src: '2001:db8::1', dst: '2001:db8::2' }), udp({ srcPort: 5353, dstPort: 5353 })], 'mdns'),
      buildPacket([ethernet(MACS), ipv4({ src: '10.0.0.1', dst: '10.0.0.2' }), ipv4({ src: '192.168.0.1', dst: '192.168.0.2' }), tcp({ srcPort: 1, dstPort: 2 })]),
    ];
    for (const frame of frames) {
      const parsed = parsePacket(frame);
      assert.equal(parsed.error, undefined, parsed.error?.message);
      for (const h of parsed.headers) if ('checksumValid' in h) assert.equal(h.checksumValid, true, `${h.kind} checksum`);
      assert.equal(hex(buildPacket(parsed.headers, parsed.payload)), hex(frame));
    }
    const qinq = parsePacket(frames[1]!).headers;
    assert.deepEqual(qinq.slice(1, 3).map((h) => h.kind === 'vlan' && [h.tpid, h.id, h.dei]), [[EtherType.QINQ, 7, false], [EtherType.VLAN, 8, true]]);
  });

  it('reports truncated and malformed packets without throwing', () => {
    const full = buildPacket([ethernet(MACS), ipv4({ src: '10.0.0.1', dst: '10.0.0.2' }), udp({ srcPort: 1, dstPort: 2 })], new Uint8Array(100));
    const cut = parsePacket(full.subarray(0, 60));
    assert.equal(cut.truncated, true);
    assert.deepEqual(cut.headers.map((h) => h.kind), ['ethernet', 'ipv4', 'udp']);
    const u = cut.headers[2];
    assert.ok(u?.kind === 'udp' && u.checksumValid === undefined, 'a cut datagram cannot be checked');
    const table: Array<[string, Uint8Array, number, RegExp]> = [
      ['short Ethernet', full.subarray(0, 10), 0, /Ethernet header needs 14/],
      ['short IPv4', full.subarray(0, 30), 14, /IPv4 header needs 20/],
      ['IPv4 header longer than the bytes', buildPacket([ethernet(MACS), ipv4({ ihl: 15 })]), 14, /options needs 60/],
      ['IPv4 ihl below 5', buildPacket([ethernet(MACS), ipv4({ ihl: 4 })]), 14, /below 20/],
      ['wrong IP version', buildPacket([ethernet({ type: EtherType.IPV4 }), ipv6()]), 14, /version 6/],
      ['UDP length below 8', buildPacket([ethernet(MACS), ipv4(), udp({ length: 4 })]), 34, /UDP length 4/],
      ['short TCP', buildPacket([ethernet(MACS), ipv4(), tcp()]).subarray(0, 14 + 20 + 10), 34, /TCP header needs 20 bytes, 10 left/],
    ];
    for (const [what, bytes, offset, message] of table) {
      const p = parsePacket(bytes);
      assert.ok(p.error, what);
      assert.equal(p.error.offset, offset, what);
      assert.match(p.error.message, message, what);
    }
    const bad = buildPacket([ethernet(MACS), ipv4({ checksum: 0x1234 }), udp({ checksum: 0x4321 })], 'x');
    const [, ip, uu] = parsePacket(bad).headers;
    assert.ok(ip?.kind === 'ipv4' && ip.checksumValid === false);
    assert.ok(uu?.kind === 'udp' && uu.checksumValid === false);
  });

  it('keeps Ethernet padding as the trailer and parses raw IP link types', () => {
    const ip = buildPacket([ipv4({ src: '10.0.0.1', dst: '10.0.0.2' }), udp()], 'a');
    const padded = new Uint8Array(14 + 46);
    padded.set(buildPacket([ethernet({ ...MACS, type: EtherType.IPV4 })], ip));
    const p = parsePacket(padded);
    assert.equal(p.payload.length, 1);
    assert.equal(p.trailer.length, 46 - ip.length);
    assert.deepEqual(parsePacket(ip, LinkType.RAW).headers.map((h) => h.kind), ['ipv4', 'udp']);
    assert.deepEqual(parsePacket(buildPacket([ipv6(), tcp()]), LinkType.RAW).headers.map((h) => h.kind), ['ipv6', 'tcp']);
    assert.deepEqual(parsePacket(ip, 9999).headers, [], 'unknown link types are all payload');
  });
});
