// parseBtfExt / serializeBtfExt: func info, line info and CO-RE relocations of kinds.bpf.c
// checked against its source and symbols, both byte orders, newer (larger) layouts, and
// errors with their byte offsets.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { ParseError } from '../../src/errors.js';
import { parseElf, STT_FUNC } from '../../src/elf/index.js';
import {
  Btf, BtfError, btfExtFromElf, btfFromElf, btfStringTable, CoreRelocationKind, parseBtf, parseBtfExt, serializeBtf,
  serializeBtfExt, type BtfExt,
} from '../../src/btf/index.js';
import { btfObjects, kindsObjects, kindsSource, readElf, sectionData } from './btf-fixtures.js';

function kinds(t: { skip(reason: string): void }): { btf: Btf; ext: BtfExt; elf: ReturnType<typeof readElf>; path: string } | undefined {
  const objs = kindsObjects();
  if (objs.skip !== false) { t.skip(objs.skip); return undefined; }
  const elf = readElf(objs.le);
  const btf = btfFromElf(elf)!;
  return { btf, ext: btfExtFromElf(elf, btf)!, elf, path: objs.le };
}

test('func info names the FUNC of every function symbol', (t) => {
  const k = kinds(t);
  if (k === undefined) return;
  const { btf, ext, elf } = k;
  assert.deepEqual([...ext.funcInfo.keys()], ['xdp', '.text', 'tc']);
  const seen: string[] = [];
  for (const [section, records] of ext.funcInfo) {
    const index = elf.sections.findIndex((s) => s.name === section);
    for (const r of records) {
      const func = btf.type(r.typeId);
      assert.equal(func.kind, 'func');
      const sym = elf.symbols.find((s) => s.section === index && s.type === STT_FUNC && s.value === r.insnOff);
      assert.equal(sym?.name, func.name, `${section}+${r.insnOff}`);
      seen.push(func.name);
    }
  }
  assert.deepEqual(seen, ['core_all', 'helper', 'second']);
});

test('every CO-RE relocation kind, with its access string, in source order', (t) => {
  const k = kinds(t);
  if (k === undefined) return;
  const { btf, ext } = k;
  const relos = ext.coreRelos.get('xdp')!;
  const rec = btf.findByName('rec', 'struct')[0];
  const signedE = btf.findByName('signed_e', 'enum')[0];
  const K = CoreRelocationKind;
  // kinds.bpf.c core_all(): one builtin per kind, in enum bpf_core_relo_kind order.
  assert.deepEqual(relos.slice(0, 13).map((r) => [r.kind, r.typeId, r.accessStr]), [
    [K.FIELD_BYTE_OFFSET, rec, '0:0'], // r->a
    [K.FIELD_BYTE_SIZE, rec, '0:5'], // r->inner
    [K.FIELD_EXISTS, rec, '0:6'], // r->cv
    [K.FIELD_SIGNED, rec, '0:3'], // r->delta
    [K.FIELD_LSHIFT_U64, rec, '0:2'], // r->mode
    [K.FIELD_RSHIFT_U64, rec, '0:2'],
    [K.TYPE_ID_LOCAL, rec, '0'],
    [K.TYPE_ID_TARGET, rec, '0'],
    [K.TYPE_EXISTS, rec, '0'],
    [K.TYPE_SIZE, rec, '0'],
    [K.ENUMVAL_EXISTS, signedE, '0'], // NEG is enumerator 0
    [K.ENUMVAL_VALUE, signedE, '2'], // POS is enumerator 2
    [K.TYPE_MATCHES, rec, '0'],
  ]);
  assert.deepEqual(Object.values(K), [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]);
  for (const records of ext.coreRelos.values()) {
    for (const r of records) assert.equal(r.insnOff % 8, 0, 'insnOff is in bytes, a multiple of 8');
  }
  assert.ok(ext.coreRelos.get('tc')!.every((r) => r.kind === K.FIELD_BYTE_OFFSET));
});

test('line info names the source file, line text, line and column', (t) => {
  const k = kinds(t);
  if (k === undefined) return;
  const source = readFileSync(kindsSource, 'utf8').split('\n');
  let count = 0;
  for (const [section, records] of k.ext.lineInfo) {
    let last = -1;
    for (const r of records) {
      assert.match(r.fileName, /(^|\/)kinds\.bpf\.c$/);
      assert.equal(r.line, source[r.lineNumber - 1], `${section}+${r.insnOff}: line ${r.lineNumber}`);
      assert.ok(r.column <= r.line.length + 1);
      assert.ok(r.insnOff % 8 === 0 && r.insnOff > last, 'ascending byte offsets');
      last = r.insnOff;
      count++;
    }
  }
  assert.ok(count > 20);
  const first = k.ext.lineInfo.get('xdp')![0]!;
  assert.deepEqual([first.insnOff, first.line, first.column], [0, 'SEC("xdp") int core_all(struct rec *r)', 0]);
});

test('big-endian .BTF.ext reads the same as little-endian', (t) => {
  const objs = kindsObjects();
  if (objs.skip !== false) return t.skip(objs.skip);
  const read = (path: string) => { const elf = readElf(path); return btfExtFromElf(elf, btfFromElf(elf)!)!; };
  const le = read(objs.le);
  const be = read(objs.be);
  assert.equal(be.bigEndian, true);
  assert.deepEqual(be.funcInfo, le.funcInfo);
  assert.deepEqual(be.coreRelos, le.coreRelos);
  assert.deepEqual([...be.lineInfo.keys()], [...le.lineInfo.keys()]);
});

test('serializeBtfExt with a compact string table parses back to the same records', () => {
  for (const file of btfObjects()) {
    const elf = readElf(file);
    const btf = btfFromElf(elf)!;
    const ext = btfExtFromElf(elf, btf);
    if (ext === undefined) continue;
    const strings = btfStringTable(btf, { stringTable: 'compact' });
    const extBytes = serializeBtfExt(ext, { strings });
    const btf2 = parseBtf(serializeBtf(btf, { strings }));
    const ext2 = parseBtfExt(extBytes, btf2);
    assert.deepEqual(ext2, ext, file);
    assert.deepEqual(parseBtfExt(serializeBtfExt(ext, { strings, bigEndian: !ext.bigEndian }), btf2).funcInfo, ext.funcInfo);
  }
});

/**
 * Rewrites little-endian `.BTF.ext` as a newer producer might: `extraHeader` more header bytes
 * and `extraRecord` more bytes at the end of every record (filled with 0xa5).
 */
function widen(bytes: Uint8Array, extraHeader: number, extraRecord: number): Uint8Array {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const hdrLen = view.getUint32(4, true);
  const parts: number[][] = [];
  for (let kind = 0; kind < 3; kind++) {
    const off = view.getUint32(8 + 8 * kind, true);
    const len = view.getUint32(12 + 8 * kind, true);
    const out: number[] = [];
    if (len > 0) {
      let at = hdrLen + off;
      const end = at + len;
      const size = view.getUint32(at, true);
      out.push(...u32(size + extraRecord));
      at += 4;
      while (at < end) {
        const n = view.getUint32(at + 4, true);
        out.push(...bytes.subarray(at, at + 8));
        at += 8;
        for (let i = 0; i < n; i++, at += size) out.push(...bytes.subarray(at, at + size), ...new Array<number>(extraRecord).fill(0xa5));
      }
    }
    parts.push(out);
  }
  const header = [...bytes.subarray(0, 8)];
  header.splice(4, 4, ...u32(hdrLen + extraHeader));
  let off = 0;
  for (const p of parts) { header.push(...u32(off), ...u32(p.length)); off += p.length; }
  header.push(...new Array<number>(hdrLen + extraHeader - header.length).fill(0));
  return Uint8Array.from([...header, ...parts.flat()]);
}

function u32(v: number): number[] {
  return [v & 0xff, (v >>> 8) & 0xff, (v >>> 16) & 0xff, v >>> 24];
}

test('larger headers and record sizes (newer formats) are read, the extra bytes skipped', (t) => {
  const k = kinds(t);
  if (k === undefined) return;
  const raw = sectionData(k.elf, '.BTF.ext');
  assert.deepEqual(parseBtfExt(widen(raw, 0, 0), k.btf), k.ext);
  assert.deepEqual(parseBtfExt(widen(raw, 8, 4), k.btf), k.ext);
  assert.deepEqual(parseBtfExt(widen(raw, 16, 12), k.btf), k.ext);
  // A 24-byte header (before CO-RE relocations existed) has no core_relo fields.
  const old = new Uint8Array(raw.length - 8);
  old.set(raw.subarray(0, 24));
  old.set(raw.subarray(32), 24);
  new DataView(old.buffer).setUint32(4, 24, true);
  const oldExt = parseBtfExt(old, k.btf);
  assert.equal(oldExt.coreRelos.size, 0);
  assert.deepEqual(oldExt.lineInfo, k.ext.lineInfo);
});

function assertParseError(fn: () => unknown, offset: number, message: RegExp): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof ParseError, `ParseError, got ${String(err)}`);
    assert.match(err.message, message);
    assert.equal(err.offset, offset, err.message);
    return true;
  });
}

function withU32(bytes: Uint8Array, at: number, value: number): Uint8Array {
  const copy = bytes.slice();
  new DataView(copy.buffer).setUint32(at, value >>> 0, true);
  return copy;
}

test('bad .BTF.ext is a ParseError at the offset of the bad field', (t) => {
  const k = kinds(t);
  if (k === undefined) return;
  const raw = sectionData(k.elf, '.BTF.ext');
  const { btf } = k;
  // clang's layout: 32-byte header; func_info at 32 (record size, then 'xdp' group at 36).
  assert.deepEqual([...raw.subarray(0, 8)], [0x9f, 0xeb, 1, 0, 32, 0, 0, 0]);
  const funcStart = 32;
  assertParseError(() => parseBtfExt(raw.subarray(0, 4), btf), 4, /too short/);
  assertParseError(() => parseBtfExt(withU32(raw, 0, 0xeb00), btf), 0, /bad magic/);
  const v = raw.slice(); v[2] = 9;
  assertParseError(() => parseBtfExt(v, btf), 2, /version 9/);
  const f = raw.slice(); f[3] = 1;
  assertParseError(() => parseBtfExt(f, btf), 3, /flags 0x1/);
  assertParseError(() => parseBtfExt(withU32(raw, 4, 16), btf), 4, /too short for func_info/);
  assertParseError(() => parseBtfExt(withU32(raw, 4, 1 << 20), btf), 4, /runs past the end/);
  assertParseError(() => parseBtfExt(withU32(raw, 8, 2), btf), 8, /func_info offset 2 is not 4-byte aligned/);
  assertParseError(() => parseBtfExt(withU32(raw, 12, 1 << 20), btf), 8, /func_info 0\+1048576 runs past/);
  assertParseError(() => parseBtfExt(withU32(raw, funcStart, 4), btf), funcStart, /record size 4 is invalid/);
  assertParseError(() => parseBtfExt(withU32(raw, funcStart, 10), btf), funcStart, /record size 10 is invalid/);
  assertParseError(() => parseBtfExt(withU32(raw, funcStart + 4, 1 << 24), btf), funcStart + 4, /string offset 16777216/);
  assertParseError(() => parseBtfExt(withU32(raw, funcStart + 8, 0), btf), funcStart + 8, /'xdp' has no records/);
  assertParseError(() => parseBtfExt(withU32(raw, funcStart + 8, 1000), btf), funcStart + 8, /1000 records of 8 bytes run past/);
  // Line info: the file name of the first record.
  const lineOff = new DataView(raw.buffer, raw.byteOffset).getUint32(16, true);
  const firstLine = 32 + lineOff + 4 + 8;
  assertParseError(() => parseBtfExt(withU32(raw, firstLine + 4, 0xfffffff), btf), firstLine + 4, /string offset 268435455/);
  // In an ELF object the offset is the file offset.
  const bytes = new Uint8Array(readFileSync(k.path));
  const section = k.elf.sections.find((s) => s.name === '.BTF.ext')!;
  const corrupt = withU32(bytes, section.offset + funcStart, 3);
  assert.throws(() => btfExtFromElf(parseElf(corrupt), btf), (err: unknown) =>
    err instanceof ParseError && err.offset === section.offset + funcStart && /^section \.BTF\.ext: /.test(err.message));
  // Strings come from the parsed .BTF: a Btf built in code has none.
  assert.throws(() => parseBtfExt(raw, new Btf(btf.own)), BtfError);
});
