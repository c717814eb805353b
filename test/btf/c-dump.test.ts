/**
 * BTF → C (`formatBtfAsC`): a hand-built BTF with one of each construct, checked as text and,
 * with clang-19, by compiling the header back to BTF; and the kernel's vmlinux.h, which must
 * compile, lay out every struct as the kernel's BTF says, and give a CO-RE program the same
 * object (BTF, .BTF.ext, instructions) as bpftool's vmlinux.h.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Btf, BtfError } from '../../src/btf/btf.js';
import { CDumper, formatBtfAsC, formatCDecl } from '../../src/btf/c-dump.js';
import { btfFromElf, parseBtf } from '../../src/btf/parse.js';
import type { BtfComposite, BtfType } from '../../src/btf/types.js';
import { parseElf } from '../../src/elf/index.js';
import { findTool, needTool } from '../support/tools.js';
import { sampleBtf } from './c-sample.js';

const VMLINUX = '/sys/kernel/btf/vmlinux';
const clang = findTool('clang-19');
const bpftool = findTool('bpftool');
const clangSkip = needTool(clang, 'clang-19');
const vmlinuxSkip = !existsSync(VMLINUX) ? `${VMLINUX} not found (kernel without BTF)` : false;

/** A file's bytes as a plain Uint8Array (not a Buffer, whose `slice` does not copy). */
const readBytes = (path: string): Uint8Array => {
  const buf = readFileSync(path);
  return new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength);
};

function run(cmd: string, args: string[], cwd: string): string {
  const r = spawnSync(cmd, args, { cwd, encoding: 'utf8', maxBuffer: 256 << 20 });
  assert.equal(r.status, 0, `${cmd} ${args.join(' ')}:\n${r.stderr.slice(0, 4000)}`);
  return r.stdout;
}

function withTmp<T>(fn: (dir: string) => T): T {
  const dir = mkdtempSync(join(tmpdir(), 'ebpf-c-dump-'));
  try {
    return fn(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const BODY = (text: string): string => {
  const start = text.indexOf('#endif\n\n') + '#endif\n\n'.length;
  return text.slice(start, text.lastIndexOf('#ifndef BPF_NO_PRESERVE_ACCESS_INDEX'));
};

test('the sample BTF as C: order, forward declarations, inline anonymous types', () => {
  const text = formatBtfAsC(sampleBtf());
  assert.ok(text.startsWith('#ifndef __VMLINUX_H__\n#define __VMLINUX_H__\n\n#ifndef BPF_NO_PRESERVE_ACCESS_INDEX\n'
    + '#pragma clang attribute push (__attribute__((preserve_access_index)), apply_to = record)\n#endif\n\n'));
  assert.ok(text.endsWith('#ifndef BPF_NO_PRESERVE_ACCESS_INDEX\n#pragma clang attribute pop\n#endif\n\n#endif /* __VMLINUX_H__ */\n'));
  const body = BODY(text);
  // struct a points to b, b embeds a: b is declared, a defined, then b.
  assert.ok(body.startsWith('struct b;\n\nstruct a {\n\tstruct b *b;\n\tint x;\n};\n\nstruct b {\n\tstruct a a;\n\tstruct b *self;\n};\n\n'));
  assert.match(body, /struct outer \{\n\tunion \{\n\t\tlong unsigned int as_long;\n\t\tunsigned char bytes\[8\];\n\t\};\n\tenum \{\n\t\tKIND_A = 0,\n\t\tKIND_B = 1,\n\t\} kind;\n\tstruct \{\n\t\tunsigned int lo;\n\t\tunsigned int hi;\n\t\t_Bool flag;\n\t\};\n\tchar data\[0\];\n\};/);
  // An anonymous enum nobody refers to is written at top level.
  assert.match(body, /\nenum \{\n\tCONST_ONE = 1,\n\tCONST_TWO = 2,\n\};\n/);
  // Forward declarations of fwd types, before their first use.
  assert.ok(body.indexOf('struct opaque;\n') < body.indexOf('struct funcs {'));
  assert.ok(body.indexOf('union uopaque;\n') < body.indexOf('struct funcs {'));
  // The embedded struct aligned comes before funcs.
  assert.ok(body.indexOf('struct aligned {') < body.indexOf('struct funcs {'));
  // A func is not written; a typedef of a function type is.
  assert.doesNotMatch(body, /\bcopy\(/);
  assert.match(body, /typedef void copy_fn\(void \* restrict dst, long unsigned int n\);/);
  // __builtin_va_list is the compiler's own.
  assert.doesNotMatch(body, /typedef .* __builtin_va_list;/);
  assert.match(body, /typedef __builtin_va_list va_list;/);
  assert.match(body, /struct empty \{\};\n\nunion uempty \{\};/);
});

test('the sample BTF as C: bitfields, padding, packed and enum sizes', () => {
  const body = BODY(formatBtfAsC(sampleBtf()));
  assert.match(body, /struct bits \{\n\tunsigned int a: 3;\n\tchar: 5;\n\tunsigned int b: 5;\n\tlong: 51;\n\tlong unsigned int c: 40;\n\};/);
  assert.match(body, /struct packed \{\n\tchar c;\n\tint i;\n\} __attribute__\(\(packed\)\);/);
  assert.match(body, /struct aligned \{\n\tint x;\n(\tlong: 64;\n){7}\};/);
  assert.match(body, /struct gap \{\n\tchar c;\n\tlong: 0;\n\tint i;\n\};/);
  assert.match(body, /enum small \{\n\tSMALL_A = 1,\n\} __attribute__\(\(mode\(byte\)\)\);/);
  assert.match(body, /enum wide32 \{\n\tW32 = 1,\n\} __attribute__\(\(mode\(word\)\)\);/);
  assert.match(body, /enum wide64 \{\n\tW64_A = 1ULL,\n\tW64_B = 18364758544493064720ULL,\n\};/);
  assert.match(body, /enum sgn \{\n\tNEG = -5,\n\tPOS = 5,\n\};/);
});

test('the sample BTF as C: declarators, type tags and name clashes', () => {
  const body = BODY(formatBtfAsC(sampleBtf()));
  assert.match(body, /typedef int \(\*handler_t\)\(void \*ctx, const char \*fmt, \.\.\.\);/);
  const funcs = /struct funcs \{\n([^}]*)\};/.exec(body)?.[1];
  assert.equal(funcs, [
    'void (*cbs[4])(int);', 'int (*pa)[4];', 'int grid[2][4];', 'const char * volatile const cvp;', 'handler_t h;',
    'void (*nop)(void);', 'struct b __attribute__((btf_type_tag("rcu"))) *tagged;', 'void (* (*ret)(int))(int);',
    'float *f;', 'double *d;', 'struct opaque *op;', 'union uopaque *up;', 'struct aligned al;',
  ].map((l) => `\t${l}\n`).join(''));
  assert.match(body, /struct dup \{\n\tint x;\n\};\n\nstruct dup___2 \{\n\tlong unsigned int y;\n\};/);
  assert.match(body, /typedef struct dup dup_t;\n\ntypedef struct dup___2 dup_t___2;/);
  // Enumerators share the namespace of typedefs: the second KIND_A is renamed.
  assert.match(body, /enum again \{\n\tKIND_A___2 = 7,\n\};/);
});

test('formatBtfAsC options: guard, pragma, a subset of types with their dependencies', () => {
  const btf = sampleBtf();
  const text = formatBtfAsC(btf, { guard: 'SAMPLE_H', preserveAccessIndex: false, types: [9] });
  assert.equal(text, '#ifndef SAMPLE_H\n#define SAMPLE_H\n\nstruct b;\n\nstruct a {\n\tstruct b *b;\n\tint x;\n};\n\n'
    + 'struct b {\n\tstruct a a;\n\tstruct b *self;\n};\n\n#endif /* SAMPLE_H */\n');
  assert.equal(formatBtfAsC(btf, { guard: false, preserveAccessIndex: false, types: [] }), '');
});

test('CDumper writes each type once across calls', () => {
  const d = new CDumper(sampleBtf());
  // struct a needs b only declared: b's definition waits until asked for.
  d.dumpType(7);
  assert.equal(d.take(), 'struct b;\n\nstruct a {\n\tstruct b *b;\n\tint x;\n};\n\n');
  d.dumpType(9);
  assert.equal(d.take(), 'struct b {\n\tstruct a a;\n\tstruct b *self;\n};\n\n');
  d.dumpType(7);
  d.dumpType(9);
  assert.equal(d.take(), '');
  assert.throws(() => d.dumpType(999), BtfError);
});

test('formatCDecl writes one declaration', () => {
  const btf = sampleBtf();
  assert.equal(formatCDecl(btf, 25, 'h'), 'handler_t h');
  assert.equal(formatCDecl(btf, 26), 'int (*)(void *ctx, const char *fmt, ...)');
  assert.equal(formatCDecl(btf, 46, 'ret'), 'void (* (*ret)(int))(int)');
  assert.equal(formatCDecl(btf, 37, 'm'), 'int m[2][4]');
  assert.equal(formatCDecl(btf, 0, 'v'), 'void v');
});

test('a split BTF is written with the base types it continues', () => {
  const base = sampleBtf();
  const split = new Btf([
    { kind: 'struct', name: 'mod_state', size: 24, kindFlag: false, members: [{ name: 'b', type: 9, bitOffset: 0, bitfieldSize: 0 }] },
  ], { base });
  const id = base.length;
  assert.equal(formatBtfAsC(split, { guard: false, preserveAccessIndex: false, types: [id] }),
    'struct b;\n\nstruct a {\n\tstruct b *b;\n\tint x;\n};\n\nstruct b {\n\tstruct a a;\n\tstruct b *self;\n};\n\n'
    + 'struct mod_state {\n\tstruct b b;\n};\n\n');
  assert.ok(formatBtfAsC(split).includes('struct mod_state {'));
});

test('a struct that embeds itself is an unsatisfiable cycle', () => {
  const types: BtfType[] = [
    { kind: 'struct', name: 'loop', size: 4, kindFlag: false, members: [{ name: 'x', type: 2, bitOffset: 0, bitfieldSize: 0 }] },
    { kind: 'typedef', name: 'loop_t', type: 1 },
  ];
  assert.throws(() => formatBtfAsC(new Btf(types)), /unsatisfiable type cycle/);
});

test('legacy bitfields (int-encoded, no kind flag) are written as bitfields', () => {
  const types: BtfType[] = [
    { kind: 'int', name: 'unsigned int', size: 4, encoding: 0, offset: 0, bits: 32 },
    { kind: 'int', name: 'unsigned int', size: 4, encoding: 0, offset: 0, bits: 3 },
    { kind: 'int', name: 'unsigned int', size: 4, encoding: 0, offset: 0, bits: 5 },
    { kind: 'struct', name: 'legacy', size: 4, kindFlag: false, members: [
      { name: 'a', type: 2, bitOffset: 0, bitfieldSize: 0 }, { name: 'b', type: 3, bitOffset: 3, bitfieldSize: 0 },
    ] },
  ];
  assert.match(formatBtfAsC(new Btf(types)), /struct legacy \{\n\tunsigned int a: 3;\n\tunsigned int b: 5;\n\};/);
});

/** Size and member layout of a struct/union compared through two BTFs, recursing into members. */
function compareLayouts(want: Btf, wantId: number, got: Btf, gotId: number, path: string, seen: Set<string>, diffs: string[]): void {
  const key = `${wantId}:${gotId}`;
  if (seen.has(key) || diffs.length > 20) return;
  seen.add(key);
  const w = want.type(want.resolve(wantId));
  const g = got.type(got.resolve(gotId));
  if (w.kind !== 'struct' && w.kind !== 'union') return;
  if (g.kind !== w.kind) {
    diffs.push(`${path}: ${w.kind} became ${g.kind}`);
    return;
  }
  const gc = g as BtfComposite;
  if (gc.size !== w.size) diffs.push(`${path}: size ${w.size} became ${gc.size}`);
  const named = w.members.filter((m) => m.name !== '' || isRecord(want, m.type));
  if (named.length !== gc.members.length) {
    diffs.push(`${path}: ${named.length} members became ${gc.members.length}`);
    return;
  }
  named.forEach((m, i) => {
    const gm = gc.members[i]!;
    const where = `${path}.${m.name || `(anon #${i})`}`;
    if (gm.name !== m.name || gm.bitOffset !== m.bitOffset || gm.bitfieldSize !== m.bitfieldSize) {
      diffs.push(`${where}: ${m.name}@${m.bitOffset}:${m.bitfieldSize} became ${gm.name}@${gm.bitOffset}:${gm.bitfieldSize}`);
    }
    compareLayouts(want, m.type, got, gm.type, where, seen, diffs);
  });
}

const isRecord = (btf: Btf, id: number): boolean => {
  const k = btf.type(btf.resolve(id)).kind;
  return k === 'struct' || k === 'union';
};

test('the sample header compiles and clang reads back the same layouts', { skip: clangSkip }, () => {
  const btf = sampleBtf();
  withTmp((dir) => {
    writeFileSync(join(dir, 'sample.h'), formatBtfAsC(btf));
    const records = btf.own.flatMap((t, id) => (t.kind === 'struct' || t.kind === 'union') && t.name !== '' ? [id] : []);
    const names = (id: number): string => {
      const t = btf.type(id) as BtfComposite;
      return `${t.kind} ${t.name}${records.filter((r) => r < id && btf.type(r).name === t.name).length ? '___2' : ''}`;
    };
    writeFileSync(join(dir, 'use.c'), `#include "sample.h"\n${records.map((id) => `${names(id)} g${id};`).join('\n')}\n`);
    run(clang!, ['-target', 'bpf', '-O2', '-g', '-Wall', '-Werror', '-c', 'use.c', '-o', 'use.o'], dir);
    const got = btfFromElf(parseElf(readBytes(join(dir, 'use.o'))))!;
    const diffs: string[] = [];
    const seen = new Set<string>();
    for (const id of records) {
      const v = got.findByName(`g${id}`, 'var')[0];
      assert.ok(v !== undefined, `g${id} in the object's BTF`);
      compareLayouts(btf, id, got, (got.type(v) as { type: number }).type, names(id), seen, diffs);
    }
    assert.deepEqual(diffs, []);
  });
});

// ---- vmlinux -------------------------------------------------------------------------------

const vmlinux = vmlinuxSkip ? undefined : parseBtf(readBytes(VMLINUX));

/** Named structs/unions whose tag is unique in the BTF (so the header keeps their name). */
function uniqueRecords(btf: Btf): number[] {
  const count = new Map<string, number>();
  for (let id = 1; id < btf.length; id++) {
    const t = btf.type(id);
    if ((t.kind === 'struct' || t.kind === 'union' || t.kind === 'enum' || t.kind === 'enum64') && t.name !== '') {
      count.set(t.name, (count.get(t.name) ?? 0) + 1);
    }
  }
  const out: number[] = [];
  for (let id = 1; id < btf.length; id++) {
    const t = btf.type(id);
    if ((t.kind === 'struct' || t.kind === 'union') && t.name !== '' && count.get(t.name) === 1) out.push(id);
  }
  return out;
}

/**
 * True when `id` embeds (not through a pointer) the compiler's `__builtin_va_list`, whose size
 * differs between the kernel's compiler (24 bytes on x86-64) and clang's BPF target (8): such
 * structs cannot have the kernel's layout in any vmlinux.h, bpftool's included.
 */
function embedsVaList(btf: Btf, id: number, memo: Map<number, boolean>): boolean {
  const known = memo.get(id);
  if (known !== undefined) return known;
  memo.set(id, false);
  let found = false;
  for (let cur = id, depth = 0; depth < 64; depth++) {
    const t = btf.type(cur);
    if (t.kind === 'typedef' && t.name === '__builtin_va_list') { found = true; break; }
    if (t.kind === 'typedef' || t.kind === 'const' || t.kind === 'volatile' || t.kind === 'restrict' || t.kind === 'type_tag' || t.kind === 'array') {
      cur = t.type;
      continue;
    }
    if (t.kind === 'struct' || t.kind === 'union') found = t.members.some((m) => embedsVaList(btf, m.type, memo));
    break;
  }
  memo.set(id, found);
  return found;
}

test('vmlinux.h is written in well under the time clang takes to read it', { skip: vmlinuxSkip }, (t) => {
  const start = performance.now();
  const text = formatBtfAsC(vmlinux!);
  const ms = performance.now() - start;
  assert.ok(text.length > 1_000_000);
  assert.ok(ms < 10_000, `formatBtfAsC(vmlinux) took ${ms.toFixed(0)} ms`);
  t.diagnostic(`formatBtfAsC(vmlinux): ${vmlinux!.length} types, ${(text.length / 1e6).toFixed(1)} MB in ${ms.toFixed(0)} ms`);
});

test('vmlinux.h: every uniquely named struct has the kernel\'s size and member offsets', { skip: clangSkip || vmlinuxSkip }, () => {
  const btf = vmlinux!;
  const memo = new Map<number, boolean>();
  const lines = ['#include "vmlinux.h"'];
  let records = 0;
  let skipped = 0;
  for (const id of uniqueRecords(btf)) {
    if (embedsVaList(btf, id, memo)) { skipped++; continue; }
    const t = btf.type(id) as BtfComposite;
    const tag = `${t.kind} ${t.name}`;
    records++;
    lines.push(`_Static_assert(sizeof(${tag}) == ${t.size}, "sizeof(${tag})");`);
    const walk = (c: BtfComposite, base: number): void => {
      for (const m of c.members) {
        if (m.bitfieldSize !== 0) continue;
        const off = base + m.bitOffset;
        if (m.name !== '') {
          if (off % 8 === 0) lines.push(`_Static_assert(__builtin_offsetof(${tag}, ${m.name}) == ${off / 8}, "${tag}.${m.name}");`);
        } else if (isRecord(btf, m.type)) {
          walk(btf.type(btf.resolve(m.type)) as BtfComposite, off);
        }
      }
    };
    walk(t, 0);
  }
  assert.ok(records > 5000, `${records} records`);
  assert.ok(skipped < 20, `${skipped} records embed va_list`);
  withTmp((dir) => {
    writeFileSync(join(dir, 'vmlinux.h'), formatBtfAsC(btf));
    writeFileSync(join(dir, 'layout.c'), lines.join('\n') + '\n');
    run(clang!, ['-target', 'bpf', '-fsyntax-only', '-ferror-limit=20', 'layout.c'], dir);
  });
});

test('vmlinux.h: bitfield structs read back from clang\'s BTF with the kernel\'s layout', { skip: clangSkip || vmlinuxSkip }, () => {
  const btf = vmlinux!;
  const memo = new Map<number, boolean>();
  const ids = uniqueRecords(btf).filter((id) => {
    const t = btf.type(id) as BtfComposite;
    return t.members.some((m) => m.bitfieldSize !== 0) && !embedsVaList(btf, id, memo);
  });
  assert.ok(ids.length > 100, `${ids.length} structs with bitfields`);
  withTmp((dir) => {
    writeFileSync(join(dir, 'vmlinux.h'), formatBtfAsC(btf));
    const src = ids.map((id) => `${btf.type(id).kind} ${btf.type(id).name} g${id};`);
    writeFileSync(join(dir, 'bits.c'), `#include "vmlinux.h"\n${src.join('\n')}\n`);
    run(clang!, ['-target', 'bpf', '-O2', '-g', '-c', 'bits.c', '-o', 'bits.o'], dir);
    const got = btfFromElf(parseElf(readBytes(join(dir, 'bits.o'))))!;
    const diffs: string[] = [];
    const seen = new Set<string>();
    for (const id of ids) {
      const v = got.findByName(`g${id}`, 'var')[0]!;
      compareLayouts(btf, id, got, (got.type(v) as { type: number }).type, btf.type(id).name, seen, diffs);
    }
    assert.deepEqual(diffs, []);
  });
});

const CORE_PROGRAM = `#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_tracing.h>

char LICENSE[] SEC("license") = "GPL";

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 4);
	__type(key, __u32);
	__type(value, __u64);
} counts SEC(".maps");

static __always_inline void bump(__u32 key, __u64 by)
{
	__u64 *v = bpf_map_lookup_elem(&counts, &key);
	if (v)
		__sync_fetch_and_add(v, by);
}

SEC("kprobe/do_exit")
int BPF_KPROBE(on_exit, long code)
{
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	pid_t ppid = BPF_CORE_READ(task, real_parent, tgid);
	__u64 start = BPF_CORE_READ(task, start_time);
	char comm[16];
	BPF_CORE_READ_STR_INTO(&comm, task, comm);
	bump(0, ppid + start + comm[0] + code);
	if (bpf_core_field_exists(task->exit_code))
		bump(1, BPF_CORE_READ(task, exit_code));
	return 0;
}

SEC("kprobe/kfree_skb_reason")
int BPF_KPROBE(on_free, struct sk_buff *skb)
{
	__u32 len = BPF_CORE_READ(skb, len);
	__u16 proto = BPF_CORE_READ(skb, protocol);
	unsigned char *head = BPF_CORE_READ(skb, head);
	__u16 mac = BPF_CORE_READ(skb, mac_header);
	struct ethhdr eth;
	bpf_probe_read_kernel(&eth, sizeof(eth), head + mac);
	bump(2, len + proto + eth.h_proto + bpf_core_type_size(struct sk_buff) +
		bpf_core_enum_value(enum bpf_func_id, BPF_FUNC_map_lookup_elem) +
		bpf_core_field_offset(struct sk_buff, cb));
	return 0;
}

SEC("xdp")
int xdp_count(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;
	if ((void *)(eth + 1) > end)
		return XDP_PASS;
	bump(3, (enum bpf_func_id)BPF_FUNC_ktime_get_ns + ctx->ingress_ifindex + eth->h_proto);
	return XDP_PASS;
}
`;

const libbpfSkip = existsSync('/usr/include/bpf/bpf_core_read.h') ? false : 'libbpf headers (/usr/include/bpf) not installed';

test('a CO-RE program compiles against our vmlinux.h to the same object as against bpftool\'s',
  { skip: clangSkip || needTool(bpftool, 'bpftool') || vmlinuxSkip || libbpfSkip }, () => {
    withTmp((dir) => {
      run('mkdir', ['ours', 'bpftool'], dir);
      writeFileSync(join(dir, 'ours', 'vmlinux.h'), formatBtfAsC(vmlinux!));
      writeFileSync(join(dir, 'bpftool', 'vmlinux.h'), run(bpftool!, ['btf', 'dump', 'file', VMLINUX, 'format', 'c'], dir));
      writeFileSync(join(dir, 'prog.c'), CORE_PROGRAM);
      const objects = ['ours', 'bpftool'].map((h) => {
        run(clang!, ['-target', 'bpf', '-D__TARGET_ARCH_x86', '-O2', '-g', '-Wall', '-Werror', `-I${h}`, '-c', 'prog.c', '-o', `${h}.o`], dir);
        return parseElf(readBytes(join(dir, `${h}.o`)));
      });
      // DWARF records header line numbers; everything else — BTF of the used types, CO-RE
      // relocations, instructions, maps — must be byte for byte the same.
      const sections = (elf: ReturnType<typeof parseElf>) => new Map(elf.sections
        .filter((s) => s.name !== '' && !s.name.includes('.debug_'))
        .map((s) => [s.name, s.data]));
      const [ours, theirs] = objects.map(sections) as [Map<string, Uint8Array>, Map<string, Uint8Array>];
      assert.deepEqual([...ours.keys()], [...theirs.keys()]);
      for (const name of ['.BTF', '.BTF.ext', 'kprobe/do_exit', 'kprobe/kfree_skb_reason', 'xdp']) assert.ok(ours.has(name), name);
      for (const [name, data] of ours) assert.ok(Buffer.from(data).equals(theirs.get(name)!), `section ${name} differs`);
      // The program's BTF names the kernel types it used.
      const progBtf = btfFromElf(objects[0]!)!;
      for (const [name, kind] of [['task_struct', 'struct'], ['sk_buff', 'struct'], ['xdp_md', 'struct'], ['bpf_func_id', 'enum']] as const) {
        assert.ok(progBtf.findByName(name, kind).length > 0, `${kind} ${name}`);
      }
    });
  });
