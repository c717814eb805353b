// Reference loops in BTF are not parse errors (the format allows any id), but every walk
// over types stops with a BtfError instead of hanging or overflowing the stack.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Btf, BtfError, codecFor, formatBtfAsC, formatBtfRaw, parseBtf, serializeBtf, type BtfType } from '../../src/btf/index.js';

const looping: BtfType[] = [
  { kind: 'void', name: '' },
  { kind: 'typedef', name: 'a', type: 2 },           // 1 -> 2
  { kind: 'const', name: '', type: 1 },              // 2 -> 1
  { kind: 'array', name: '', type: 3, indexType: 0, nelems: 2 }, // 3 -> itself
  { kind: 'struct', name: 's', size: 4, kindFlag: false, members: [{ name: 'x', type: 1, bitOffset: 0, bitfieldSize: 0 }] },
];

test('typedef/qualifier and array loops end in BtfError', () => {
  const btf = parseBtf(serializeBtf(new Btf(looping))); // through the wire format too
  assert.throws(() => btf.resolve(1), BtfError);
  assert.equal(btf.skipModifiers(2), 1); // const -> typedef: stops at the typedef
  assert.throws(() => btf.sizeof(3), BtfError);
  assert.throws(() => btf.sizeof(4 - 3), BtfError);
  assert.throws(() => codecFor(btf, 4), BtfError);
  assert.throws(() => formatBtfAsC(btf), (e: unknown) => e instanceof BtfError && /reference loop/.test(e.message));
  assert.match(formatBtfRaw(btf), /TYPEDEF 'a' type_id=2/); // listing needs no walk
});
