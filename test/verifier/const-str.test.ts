/**
 * ARG_PTR_TO_CONST_STR against the running kernel: bpf_snprintf's format (checked at load time
 * by bpf_bprintf_prepare against R5 / 8 arguments) and bpf_strncmp's string, read from a frozen
 * BPF_F_RDONLY_PROG array, and the same strings in a map that is not frozen or not read-only.
 * Each program is loaded into the kernel and verified by us with the map's contents; the
 * verdicts must agree.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { encodeSlots, type RawInstruction } from '../../src/isa/index.js';
import { KernelError, createMap, loadProgram } from '../../src/kernel/index.js';
import { MapFlag, MapType, ProgramType } from '../../src/object/uapi-types.js';
import { verify, type MapInfo } from '../../src/verifier/index.js';
import { kernelSkip } from '../support/kernel.js';

const VALUE_SIZE = 64;
const raw = (code: number, dst = 0, src = 0, off = 0, imm = 0): RawInstruction => ({ code, dst, src, off, imm });
const MOV64_K = 0xb7, MOV64_X = 0xbf, ADD64_K = 0x07, STDW = 0x7a, CALL = 0x85, EXIT = 0x95, LDDW = 0x18;

/** r3 = &map_value[0] (lddw src 2), 8 * args bytes of zeroed stack data in r4, R5 = len; then the call. */
function snprintf(fd: number, dataLen: number): RawInstruction[] {
  return [
    raw(STDW, 10, 0, -8, 0), raw(STDW, 10, 0, -16, 0), raw(STDW, 10, 0, -24, 0), raw(STDW, 10, 0, -32, 0),
    raw(STDW, 10, 0, -40, 0), raw(STDW, 10, 0, -48, 0), raw(STDW, 10, 0, -56, 0), raw(STDW, 10, 0, -64, 0),
    raw(STDW, 10, 0, -72, 0), raw(STDW, 10, 0, -80, 0), raw(STDW, 10, 0, -88, 0), raw(STDW, 10, 0, -96, 0),
    raw(STDW, 10, 0, -104, 0),
    raw(MOV64_K, 1, 0, 0, 0), raw(MOV64_K, 2, 0, 0, 0),
    raw(LDDW, 3, 2, 0, fd), raw(0, 0, 0, 0, 0),
    raw(MOV64_X, 4, 10), raw(ADD64_K, 4, 0, 0, -104), raw(MOV64_K, 5, 0, 0, dataLen),
    raw(CALL, 0, 0, 0, 165), raw(MOV64_K, 0, 0, 0, 0), raw(EXIT),
  ];
}

/** bpf_strncmp(stack "abc", 4, &map_value[off]). */
function strncmp(fd: number, off: number): RawInstruction[] {
  return [
    raw(0x62, 10, 0, -8, 0x636261), raw(MOV64_X, 1, 10), raw(ADD64_K, 1, 0, 0, -8), raw(MOV64_K, 2, 0, 0, 4),
    raw(LDDW, 3, 2, 0, fd), raw(0, 0, 0, 0, off),
    raw(CALL, 0, 0, 0, 182), raw(MOV64_K, 0, 0, 0, 0), raw(EXIT),
  ];
}

const FORMATS: readonly [string, number][] = [
  ['plain text', 0], ['%d', 8], ['%d', 0], ['%d %d', 8], ['%d %d', 16], ['%5d|%-5u|%05x|%+d|% X', 40],
  ['%ld %lu %lld %llx %lli', 40], ['%hd', 8], ['%.2d', 8], ['%s', 8], ['%sx', 8], ['%s.', 8], ['%c', 8], ['%%', 0],
  ['100%% %d%%', 8], ['%p', 8], ['%px %pK %ps %pS', 32], ['%pB', 8], ['%pks %pus', 16], ['%pksx', 8],
  ['%pI4 %pi4 %pI6 %pi6', 32], ['%pI5', 8], ['%pa', 8], ['%q', 8], ['%#x', 8], ['%ls', 8], ['%5%', 8],
  ['\u0001 control', 0], ['tab\there', 0], ['%d %d %d %d %d %d %d %d %d %d %d %d', 96], ['%d %d %d %d %d %d %d %d %d %d %d %d %d', 104],
  ['%', 8], ['%l', 8], ['%lll', 8], ['% -0+7d', 8],
];

/** Kernel verdicts seen, so a setup mistake that makes every load fail cannot pass unnoticed. */
const seen = { accept: 0, reject: 0 };

function agree(progType: number, insns: RawInstruction[], mapOf: (fd: number) => MapInfo | undefined): [boolean, string] {
  let kernel = true;
  try {
    loadProgram({ type: progType, instructions: encodeSlots(insns), license: 'GPL' }).close();
  } catch (err) {
    if (!(err instanceof KernelError)) throw err;
    kernel = false;
  }
  const ours = verify(insns, { progType, maps: mapOf });
  seen[kernel ? 'accept' : 'reject']++;
  return [kernel === (ours.verdict === 'accept'), `kernel ${kernel ? 'accepts' : 'rejects'}, ours ${ours.verdict}${ours.error ? `: ${ours.error.message}` : ''}`];
}

function stringMap(text: string, frozen: boolean, flags: number): { fd: number; info: MapInfo; close: () => void } {
  const map = createMap({ type: MapType.ARRAY, keySize: 4, valueSize: VALUE_SIZE, maxEntries: 1, flags });
  const data = new Uint8Array(VALUE_SIZE);
  data.set(new TextEncoder().encode(text).subarray(0, VALUE_SIZE));
  map.update(new Uint8Array(4), data);
  if (frozen) map.freeze();
  const info: MapInfo = { type: MapType.ARRAY, keySize: 4, valueSize: VALUE_SIZE, maxEntries: 1, flags, id: map.fd, frozen, data };
  return { fd: map.fd, info, close: () => map.close() };
}

describe('constant strings against the kernel', () => {
  it('bpf_snprintf formats', { skip: kernelSkip() }, () => {
    const differ: string[] = [];
    for (const [fmt, len] of FORMATS) {
      const m = stringMap(fmt, true, MapFlag.RDONLY_PROG);
      try {
        const [ok, why] = agree(ProgramType.SOCKET_FILTER, snprintf(m.fd, len), (fd) => (fd === m.fd ? m.info : undefined));
        if (!ok) differ.push(`${JSON.stringify(fmt)} with ${len} bytes: ${why}`);
      } finally {
        m.close();
      }
    }
    assert.deepEqual(differ, []);
  });

  it('bpf_strncmp: frozen, not frozen, not read-only, unterminated, offsets', { skip: kernelSkip() }, () => {
    const differ: string[] = [];
    const cases: [string, boolean, number, number][] = [
      ['abc', true, MapFlag.RDONLY_PROG, 0], ['abc', false, MapFlag.RDONLY_PROG, 0], ['abc', true, 0, 0],
      ['x'.repeat(VALUE_SIZE), true, MapFlag.RDONLY_PROG, 0], ['abc', true, MapFlag.RDONLY_PROG, 2],
      ['abc', true, MapFlag.RDONLY_PROG, VALUE_SIZE - 1], ['abc', true, MapFlag.RDONLY_PROG, VALUE_SIZE],
    ];
    for (const [text, frozen, flags, off] of cases) {
      const m = stringMap(text, frozen, flags);
      try {
        const [ok, why] = agree(ProgramType.SOCKET_FILTER, strncmp(m.fd, off), (fd) => (fd === m.fd ? m.info : undefined));
        if (!ok) differ.push(`${text.slice(0, 8)} frozen=${frozen} flags=${flags} off=${off}: ${why}`);
      } finally {
        m.close();
      }
    }
    assert.deepEqual(differ, []);
    assert.ok(seen.accept >= 10 && seen.reject >= 10, `kernel verdicts: ${seen.accept} accepts, ${seen.reject} rejects`);
  });
});
