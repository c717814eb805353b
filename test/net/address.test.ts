import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { formatIpv4, formatIpv6, formatMac, parseIpv4, parseIpv6, parseMac } from '../../src/net/index.js';

describe('addresses', () => {
  it('round-trips MAC and IPv4 text', () => {
    assert.deepEqual([...parseMac('02:00:0A:ff:00:01')], [2, 0, 10, 255, 0, 1]);
    assert.equal(formatMac(parseMac('02-00-0a-ff-00-01')), '02:00:0a:ff:00:01');
    assert.equal(formatIpv4(parseIpv4('192.168.0.255')), '192.168.0.255');
    for (const bad of ['1.2.3', '1.2.3.256', '1.2.3.4.5', 'a.b.c.d']) assert.throws(() => parseIpv4(bad), TypeError);
    assert.throws(() => parseMac('02:00:00:00:00'), TypeError);
  });

  it('formats IPv6 in the RFC 5952 canonical form', () => {
    const table: Array<[string, string]> = [
      ['2001:0db8:0000:0000:0000:0000:0000:0001', '2001:db8::1'],
      ['::', '::'],
      ['::1', '::1'],
      ['fe80::', 'fe80::'],
      ['2001:db8:0:1:1:1:1:1', '2001:db8:0:1:1:1:1:1'], // a single zero group is not compressed
      ['2001:0:0:1:0:0:0:1', '2001:0:0:1::1'], // the longest run wins
      ['2001:db8:0:0:1:0:0:1', '2001:db8::1:0:0:1'], // the first of equal runs wins
      ['::ffff:10.0.0.1', '::ffff:a00:1'],
      ['1:2:3:4:5:6:7::', '1:2:3:4:5:6:7:0'],
    ];
    for (const [text, canonical] of table) assert.equal(formatIpv6(parseIpv6(text)), canonical, text);
    for (const bad of ['1::2::3', '1:2:3:4:5:6:7:8:9', '12345::', ':::', '1:2:3:4:5:6:7', '::1.2.3']) assert.throws(() => parseIpv6(bad), TypeError, bad);
  });
});
