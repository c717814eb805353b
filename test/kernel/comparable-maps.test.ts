/**
 * The comparability analysis with a map model (test/kernel/comparable.ts `taintOf(…, maps)`), as
 * the map crosscheck (test/vm/crosscheck-maps.test.ts) uses it: map value pointers, NULL checks,
 * what a program stores in a map and what it passes to helpers.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { decodeRawProgram, type RawInstruction } from '../../src/isa/index.js';
import { HELPER_PROTOS } from '../../src/verifier/index.js';
import { taintOf, type MapModel } from './comparable.js';

const FD = 7;
const MAPS: MapModel = { mapOf: (fd) => (fd === FD ? { keySize: 8, valueSize: 8 } : undefined), helper: (id) => HELPER_PROTOS.get(id) };
const I = (code: number, dst = 0, src = 0, off = 0, imm = 0): RawInstruction => ({ code, dst, src, off, imm });

/** `*(u64 *)(r10 - 8) = <key store>; r2 = r10 - 8; r1 = map; call map_lookup_elem; if r0 == 0 goto out; <body>; out: exit` */
function lookup(keyStore: RawInstruction[], body: RawInstruction[], onNull: RawInstruction[] = [I(0xb7, 0, 0, 0, 0)]): RawInstruction[] {
  return [
    ...keyStore,
    I(0xbf, 2, 10), I(0x07, 2, 0, 0, -8),
    I(0x18, 1, 1, 0, FD), I(0),
    I(0x85, 0, 0, 0, 1),
    I(0x55, 0, 0, onNull.length + 1, 0), // if r0 != 0 goto found
    ...onNull, I(0x95),
    ...body, I(0x95),
  ];
}
const taint = (raw: RawInstruction[]): string | undefined => taintOf(decodeRawProgram(raw), 256, MAPS);
const KEY = [I(0x7a, 10, 0, -8, 1)]; // *(u64 *)(r10 - 8) = 1

describe('crosscheck comparability with maps (MapModel)', () => {
  it('accepts a value read from a map, and NULL returned as r0', () => {
    assert.equal(taint(lookup(KEY, [I(0x79, 0, 0, 0, 0)])), undefined); // r0 = *(u64 *)(r0 + 0)
    // A value pointer found NULL is 0 on both machines.
    assert.equal(taint(lookup(KEY, [I(0xb7, 0, 0, 0, 1)], [])), undefined);
  });

  it('refuses a map value pointer as the result', () => {
    assert.match(taint(lookup(KEY, [])) ?? '', /machine-dependent value/);
  });

  it('refuses an address or uninitialised bytes stored in a map or used as a key', () => {
    assert.equal(taint(lookup(KEY, [I(0x7a, 0, 0, 0, 5), I(0xb7, 0, 0, 0, 0)])), undefined); // *(u64 *)(r0 + 0) = 5
    assert.equal(taint(lookup(KEY, [I(0x7b, 0, 10, 0, 0), I(0xb7, 0, 0, 0, 0)])), 'machine-dependent value stored in a map');
    assert.equal(taint(lookup([I(0x62, 10, 0, -8, 1)], [I(0xb7, 0, 0, 0, 0)])), 'machine-dependent bytes passed to a helper'); // 4 of 8 key bytes written
  });

  it('without a map model, a helper result stays machine-dependent (the plain crosscheck)', () => {
    assert.match(taintOf(decodeRawProgram(lookup(KEY, [I(0x79, 0, 0, 0, 0)])), 256) ?? '', /machine-dependent value/);
  });
});
