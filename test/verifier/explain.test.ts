/**
 * Explanations of rejections: small programs each refused for a different reason. The kernel
 * refuses each one too, with the same words (loaded through src/kernel with the same maps),
 * and the explanation names the instruction the bad value came from, the path, and the
 * missing check.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { assemble, encodeProgram, type Instruction } from '../../src/isa/index.js';
import { KernelError, createMap, loadProgram, type KernelMap } from '../../src/kernel/index.js';
import { type MapInfo, type VerifyResult, explainRejection, formatPath, verify } from '../../src/verifier/index.js';
import { kernelSkip } from '../support/kernel.js';

const HASH: Omit<MapInfo, 'id'> = { type: 1, keySize: 8, valueSize: 16, maxEntries: 4, flags: 0 };
const RINGBUF: Omit<MapInfo, 'id'> = { type: 27, keySize: 0, valueSize: 0, maxEntries: 4096, flags: 0 };

// r2 = &key (fp-8, zeroed); r0 = bpf_map_lookup_elem(map, r2): the lookup is insn 6 (lddw takes slots 4 and 5).
const LOOKUP = `r1 = 0
*(u64 *)(r10 - 8) = r1
r2 = r10
r2 += -8
ld_pseudo r1, 1, HASH
call bpf_map_lookup_elem#1
`;

interface Case {
  readonly name: string;
  readonly progType: number;
  readonly asm: string;
  readonly message: string;
  /** How the kernel's last log line relates to ours: equal, or ours is one line of its log (it adds a line after). */
  readonly kernel: 'same' | 'in-log' | RegExp;
  readonly kind: string;
  readonly origin?: number;
  readonly path?: readonly number[];
  readonly says: readonly RegExp[];
}

const CASES: readonly Case[] = [
  {
    name: 'NULL deref after a 32-bit check', progType: 1, kernel: 'same', kind: 'null-deref', origin: 6,
    asm: `${LOOKUP}r6 = r0\nr7 = *(u32 *)(r10 - 8)\nif r7 > 5 goto +2\nif w6 == 0 goto +2\nr1 = *(u64 *)(r6 + 0)\nr0 = 0\nexit`,
    message: "R6 invalid mem access 'map_value_or_null'",
    path: [0, 1, 2, 3, 4, 6, 7, 8, 9, 10, 11],
    says: [
      /^r6 may be NULL at insn 11: it came from bpf_map_lookup_elem at insn 6, and the path 6…9→10→11 has no check of r6 against 0\./,
      /comparison at insn 10 \(`if w6 == 0x0 goto pc\+2`\) does not count: it compares only the low 32 bits/,
      /Copies of this value: r6 at insn 7; at insn 11 it is also in r0\./,
      /insn 9 `if r7 > 0x5 goto pc\+2` fell through/,
    ],
  },
  {
    name: 'register clobbered by a helper call', progType: 1, kernel: 'same', kind: 'uninit-reg', origin: 6,
    asm: `${LOOKUP}if r0 != 0 goto +2\nr0 = r2\nexit\nr0 = 0\nexit`,
    message: 'R2 !read_ok',
    path: [0, 1, 2, 3, 4, 6, 7, 8],
    says: [/^r2 is read at insn 8 but holds no value: it was clobbered by the call to bpf_map_lookup_elem at insn 6, and the path 6→7→8 does not write it again\./],
  },
  {
    name: 'the NULL branch of a lookup dereferenced', progType: 1, kernel: 'same', kind: 'scalar-deref', origin: 6,
    asm: `${LOOKUP}if r0 != 0 goto +2\nr1 = *(u64 *)(r0 + 0)\nexit\nr0 = 0\nexit`,
    message: "R0 invalid mem access 'scalar'",
    says: [/^r0 is NULL at insn 8: it is the result of bpf_map_lookup_elem at insn 6, and at insn 7 the path went the way where it equals 0 \(insn 7 `if r0 != 0x0 goto pc\+2` fell through\)/],
  },
  {
    name: 'a pointer overwritten by a number', progType: 1, kernel: 'same', kind: 'scalar-deref', origin: 9,
    asm: `${LOOKUP}r6 = r0\nif r6 == 0 goto +1\nr0 = 0\nr1 = *(u64 *)(r0 + 0)\nr0 = 0\nexit`,
    message: "R0 invalid mem access 'scalar'",
    says: [/^r0 holds a number, not a pointer, at insn 10: its value comes from `r0 = 0` at insn 9\./, /pointers here: r6 \(bpf_map_lookup_elem at insn 6\)/],
  },
  {
    name: 'map value index bounded one too loosely', progType: 1, kernel: 'same', kind: 'out-of-bounds', origin: 6,
    asm: `${LOOKUP}if r0 == 0 goto +6\nr1 = *(u32 *)(r0 + 0)\nif r1 > 16 goto +4\nr0 += r1\nr1 = *(u8 *)(r0 + 0)\nr0 = 0\nexit\nr0 = 0\nexit`,
    message: 'R0 max value is outside of the allowed memory range',
    says: [
      /^insn 11 accesses 1 byte at r0\+0, where r0 points into the map value at offset 0 plus a variable part in \[0, 16\]: it may reach bytes 0…16, but the map value has 16 bytes \(offsets 0…15\)\./,
      /At insn 10 \(`r0 \+= r1`\) a value was added to it: `r1 = \*\(u32 \*\)\(r0 \+0\)` at insn 8\./,
      /insn 9 fell through, so r1 <= 16/,
    ],
  },
  {
    name: 'a ring-buffer record used before its NULL check', progType: 1, kernel: 'same', kind: 'null-deref', origin: 4,
    asm: `ld_pseudo r1, 1, RINGBUF\nr2 = 8\nr3 = 0\ncall bpf_ringbuf_reserve#131\nr1 = 7\n*(u64 *)(r0 + 0) = r1\nr1 = r0\nr2 = 0\ncall bpf_ringbuf_submit#132\nr0 = 0\nexit`,
    message: "R0 invalid mem access 'ringbuf_mem_or_null'",
    path: [0, 2, 3, 4, 5, 6],
    says: [/^r0 may be NULL at insn 6: it came from bpf_ringbuf_reserve at insn 4, and the path 4→5→6 has no check of r0 against 0\./],
  },
  {
    name: 'a packet read past the bytes checked against data_end', progType: 6, kernel: 'same', kind: 'out-of-bounds', origin: 0,
    asm: 'r2 = *(u32 *)(r1 + 0)\nr3 = *(u32 *)(r1 + 4)\nr4 = r2\nr4 += 14\nif r4 > r3 goto +2\nr0 = *(u32 *)(r2 + 12)\nexit\nr0 = 2\nexit',
    message: 'R2 offset is outside of the packet',
    path: [0, 1, 2, 3, 4, 5],
    says: [
      /^insn 5 reads 4 bytes at r2\+12, bytes 12…15 of the packet counted from where r2 started, but the verifier only knows that 14 bytes from there lie before data_end \(r=14\)\./,
      /comparison with data_end on the path: insn 4 `if r4 > r3 goto pc\+2` fell through \(so r4 <= r3\)\./,
      /moved forward at insn 3 \(`r4 \+= 14`\)/,
      /compare data \+ 16 \(not less\) with data_end/,
    ],
  },
  {
    name: 'a map value read at a constant offset past its end', progType: 1, kernel: 'same', kind: 'out-of-bounds', origin: 6,
    asm: `${LOOKUP}if r0 == 0 goto +2\nr1 = *(u64 *)(r0 + 12)\nr0 = 0\nexit`,
    message: 'R0 min value is outside of the allowed memory range',
    says: [/^insn 8 accesses 8 bytes at r0\+12, where r0 points into the map value at offset 0: it may reach bytes 12…19, but the map value has 16 bytes \(offsets 0…15\)\./, /12 \+ 8 = 20/],
  },
  {
    name: 'ring-buffer record not submitted on one path', progType: 1, kernel: 'in-log', kind: 'unreleased-ref', origin: 4,
    asm: `ld_pseudo r1, 1, RINGBUF\nr2 = 8\nr3 = 0\ncall bpf_ringbuf_reserve#131\nif r0 == 0 goto +9\nr6 = r0\nr1 = 7\n*(u64 *)(r0 + 0) = r1\nr7 = *(u32 *)(r0 + 0)\nif r7 > 3 goto +3\nr1 = r6\nr2 = 0\ncall bpf_ringbuf_submit#132\nr0 = 0\nexit`,
    message: 'Unreleased reference id=2 alloc_insn=4',
    path: [0, 2, 3, 4, 5, 6, 7, 8, 9, 10, 14, 15],
    says: [
      /^The reference acquired by bpf_ringbuf_reserve at insn 4 \(id 2\) is still held when the program exits at insn 15: the path 4→5→6…10→14→15 never releases it\./,
      /bpf_ringbuf_submit or bpf_ringbuf_discard/,
      /At the exit the record is still in r6\./,
      /insn 10 `if r7 > 0x3 goto pc\+3` jumped to 14/,
    ],
  },
  {
    name: 'a loop that cannot end', progType: 1, kernel: 'in-log', kind: 'too-complex',
    asm: 'r1 = 0\nr1 += 0\nif r1 < 10 goto -2\nr0 = 0\nexit',
    message: 'infinite loop detected at insn 1',
    says: [/^The path came back to insn 1 in exactly the state it had the previous time \(1→2→1\)/, /insn 2 `if r1 < 0xa goto pc-2` jumped to 1/],
  },
  {
    name: 'a helper argument of the wrong type', progType: 1, kernel: 'same', kind: 'helper-arg', origin: 0,
    asm: 'r1 = 5\nr2 = r10\nr2 += -8\ncall bpf_map_lookup_elem#1\nr0 = 0\nexit',
    message: 'R1 type=scalar expected=map_ptr',
    says: [/^Argument 1 of bpf_map_lookup_elem \(r1\) must be map_ptr, but at insn 3 r1 is scalar: `r1 = 5` at insn 0\./],
  },
  {
    name: 'a context offset the program type lacks', progType: 6, kernel: 'same', kind: 'ctx-access', origin: -1,
    asm: 'r0 = *(u32 *)(r1 + 24)\nexit',
    message: 'invalid bpf_context access off=24 size=4',
    says: [/^insn 0 reads 4 bytes at offset 24 of the context/],
  },
  {
    name: 'a return value out of range', progType: 8, kind: 'return-value', origin: 0,
    // The kernel prints the register as `smin=0 smax=4294967295`; ours as the log prints a register.
    kernel: /^At program exit the register R0 has .*should have been in \[0, 1\]$/,
    asm: 'r0 = *(u32 *)(r1 + 0)\nexit',
    message: 'At program exit the register R0 has scalar(smin=0,smax=umax=0xffffffff,var_off=(0x0; 0xffffffff)) should have been in [0, 1]',
    says: [/^At the exit \(insn 1\) r0 may be outside \[0, 1\], the return values this program type allows: r0 comes from `r0 = \*\(u32 \*\)\(r1 \+0\)` at insn 0\./],
  },
  {
    name: 'a stack write below the frame', progType: 1, kernel: 'same', kind: 'out-of-bounds',
    asm: 'r1 = 0\n*(u64 *)(r10 - 520) = r1\nr0 = 0\nexit',
    message: 'invalid write to stack R10 off=-520 size=8',
    says: [/^insn 1 writes 8 bytes at fp-520: the stack is the 512 bytes below r10/],
  },
  {
    name: 'anything else: generic words that still name the instruction, the registers and the path', progType: 1, kernel: 'same', kind: 'other',
    asm: 'r2 = r1\nr2 &= 1\nr0 = 0\nexit',
    message: 'R2 bitwise operator &= on pointer prohibited',
    path: [0, 1],
    says: [
      /^The verifier rejected insn 1 \(`r2 &= 1`\): R2 bitwise operator &= on pointer prohibited\./,
      /^r2 is ctx\(\), from the context pointer the program starts with in r1\.$/m,
      /^Path: 0→1\.$/m,
    ],
  },
  {
    name: 'unreachable code', progType: 1, kernel: 'same', kind: 'unreachable',
    asm: 'r0 = 0\nexit\nr0 = 1\nexit',
    message: 'unreachable insn 2',
    says: [/^No jump and no fall-through reaches insn 2/],
  },
];

describe('explanations of rejections', () => {
  const kernel = kernelSkip();
  let maps: KernelMap[] = [];
  const fds = { HASH: 100, RINGBUF: 101 };
  before(() => {
    if (kernel !== false) return;
    maps = [createMap(HASH), createMap(RINGBUF)];
    fds.HASH = maps[0]!.fd;
    fds.RINGBUF = maps[1]!.fd;
  });
  after(() => { for (const m of maps) m.close(); });

  const program = (c: Case): Instruction[] => assemble(c.asm.replace('HASH', String(fds.HASH)).replace('RINGBUF', String(fds.RINGBUF)));
  const ours = (c: Case, insns: readonly Instruction[]): VerifyResult => verify(insns, {
    progType: c.progType,
    maps: (fd) => (fd === fds.HASH ? { ...HASH, id: fd } : fd === fds.RINGBUF ? { ...RINGBUF, id: fd } : undefined),
  });

  for (const c of CASES) {
    it(c.name, () => {
      const insns = program(c);
      const result = ours(c, insns);
      assert.equal(result.error?.message, c.message);
      const e = explainRejection(insns, result.error!);
      assert.equal(e.kind, c.kind, e.explanation);
      assert.equal(e.insn, result.error!.insn);
      if (c.origin !== undefined) assert.equal(e.origin?.insn, c.origin, e.explanation);
      if (c.path !== undefined) assert.deepEqual(e.path.map((s) => s.insn), c.path);
      for (const re of c.says) assert.match(e.explanation, re);
      // The path ends at the rejected instruction and every conditional jump on it says which way it went.
      if (e.path.length > 0) assert.equal(e.path[e.path.length - 1]!.insn, e.insn);
      for (const step of e.path.slice(0, -1)) assert.equal(step.taken !== undefined, insns.length > 0 && isCondJump(insns, step.insn));
    });
  }

  it('the kernel refuses each program with the same words', { skip: kernel }, () => {
    for (const c of CASES) {
      const insns = program(c);
      let log: string | undefined;
      try {
        loadProgram({ type: c.progType, instructions: encodeProgram(insns), license: 'GPL', logLevel: 1, logSize: 1 << 20 }).close();
      } catch (err) {
        if (!(err instanceof KernelError)) throw err;
        log = err.log ?? '';
      }
      assert.ok(log !== undefined, `${c.name}: the kernel accepted it`);
      const lines = log.trim().split('\n').filter((l) => !l.startsWith('processed ') && !l.startsWith('verification time'));
      const last = lines[lines.length - 1];
      if (c.kernel === 'same') assert.equal(last, c.message, c.name);
      else if (c.kernel === 'in-log') assert.ok(lines.includes(c.message), `${c.name}: the kernel's log has no line '${c.message}':\n${log}`);
      else assert.match(last ?? '', c.kernel, c.name);
    }
  });

  it('explains a program too complex to verify, naming the instructions the path repeats', () => {
    // A loop whose counter the verifier cannot bound: with a 300-instruction limit it gives up.
    const insns = assemble('r1 = *(u32 *)(r1 + 0)\nr1 += 1\nif r1 != 0 goto -2\nr0 = 0\nexit');
    const result = verify(insns, { progType: 1, insnLimit: 300 });
    assert.equal(result.error?.message, 'BPF program is too large. Processed 301 insn');
    const e = explainRejection(insns, result.error!);
    assert.equal(e.kind, 'too-complex');
    assert.match(e.explanation, /^The verifier gave up at insn \d: BPF program is too large/);
    assert.match(e.explanation, /Most repeated instructions on the last path: insn [12] ×\d+, insn [12] ×\d+/);
    assert.equal(e.path.length, 301);
  });

  it('records the path through a subprogram call and its return', () => {
    // main: call sub (insn 1); sub: r0 = r6 (r6 is never written in a subprogram)
    const insns = assemble('r1 = 1\ncall pc+2\nr0 = 0\nexit\nr0 = r6\nexit');
    const result = verify(insns, { progType: 1 });
    assert.equal(result.error?.message, 'R6 !read_ok');
    assert.deepEqual(result.error?.path?.map((s) => s.insn), [0, 1, 4]);
    const e = explainRejection(insns, result.error!);
    assert.match(e.explanation, /^r6 is read at insn 4 but no instruction on the path 0→1→4 writes it in this subprogram/);
    assert.equal(formatPath(e.path), '0→1→4');
  });
});

function isCondJump(insns: readonly Instruction[], slot: number): boolean {
  let s = 0;
  for (const insn of insns) {
    if (s === slot) return insn.kind === 'jump';
    s += insn.kind === 'lddw' ? 2 : 1;
  }
  return false;
}
