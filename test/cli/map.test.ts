// `ebpf map show|dump|lookup|update|delete`, run as a user runs it, against bpftool's own -j
// output on maps an `ebpf prog loadall --pin` left pinned in a per-test directory of /sys/fs/bpf.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import type { MapShowReport } from '../../src/cli/map.js';
import type { LoadAllReport } from '../../src/cli/prog.js';
import { repoRoot } from '../support/shared.js';
import { kernelSkip } from '../support/kernel.js';
import { needTool } from '../support/tools.js';
import { bpftool, scratchPins } from '../kernel/collection-support.js';

const bin = join(repoRoot, 'bin', 'ebpf.js');
const ebpf = (args: string[]) => spawnSync(process.execPath, [bin, ...args], { cwd: repoRoot, encoding: 'utf8' });
const ok = (args: string[]): string => {
  const r = ebpf(args);
  assert.equal(r.status, 0, `ebpf ${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
};
const json = <T>(args: string[]): T => JSON.parse(ok([...args, '-j'])) as T;
const bpftoolJson = <T>(args: string[]): T => {
  const r = spawnSync(bpftool!, ['-j', ...args], { encoding: 'utf8' });
  assert.equal(r.status, 0, `bpftool ${args.join(' ')}: ${r.stderr}`);
  return JSON.parse(r.stdout) as T;
};
interface DumpEntry { key: string[]; value?: string[]; values?: unknown[]; formatted?: Record<string, unknown> }

describe('ebpf map', { skip: kernelSkip() || needTool(bpftool, 'bpftool') }, () => {
  it('show, dump, update, lookup and delete, as bpftool', () => {
    using pins = scratchPins();
    json<LoadAllReport>(['prog', 'loadall', 'bpf/objects/maps_btf.o', '--pin', pins.path]);
    const flows = join(pins.path, 'maps', 'flows');
    const key = '{"saddr":1,"daddr":2,"sport":3,"dport":4,"proto":6}';
    ok(['map', 'update', 'pinned', flows, 'key', key, 'value', '{"packets":5,"bytes":18446744073709551615}']);
    ok(['map', 'update', 'pinned', flows, 'key', 'hex', '09000000', '02000000', '0300', '0400', '11000000', 'value', ...Array(16).fill('0x01')]);
    // JSON dumps: byte for byte what bpftool prints, BTF-formatted values included.
    assert.equal(ok(['map', 'dump', 'pinned', flows, '-j']), spawnSync(bpftool!, ['-j', 'map', 'dump', 'pinned', flows], { encoding: 'utf8' }).stdout);
    const percpu = join(pins.path, 'maps', 'percpu_array');
    assert.deepEqual(json<DumpEntry[]>(['map', 'dump', 'pinned', percpu]), bpftoolJson<DumpEntry[]>(['map', 'dump', 'pinned', percpu]));
    for (const name of ['flows', 'percpu_array', 'counters', 'jump_table', 'outer_array']) {
      const path = join(pins.path, 'maps', name);
      assert.deepEqual(json<MapShowReport>(['map', 'show', 'pinned', path]), bpftoolJson<MapShowReport>(['map', 'show', 'pinned', path]), name);
    }
    const shown = json<MapShowReport>(['map', 'show', 'pinned', flows]);
    assert.ok(json<MapShowReport[]>(['map', 'show']).some((m) => m.id === shown.id));
    assert.match(ok(['map', 'show', 'id', String(shown.id)]), new RegExp(`^${shown.id}: hash  name flows  flags 0x0\\n\\tkey 16B  value 16B  max_entries 1024  memlock \\d+B\\n\\tbtf_id \\d+\\n$`));

    // lookup by id, JSON and bytes; flags; delete.
    const found = json<DumpEntry>(['map', 'lookup', 'id', String(shown.id), 'key', key]);
    assert.deepEqual(found.formatted, { key: { saddr: 1, daddr: 2, sport: 3, dport: 4, proto: 6 }, value: { packets: 5, bytes: 18446744073709551615 } });
    const exists = ebpf(['map', 'update', 'pinned', flows, 'key', key, 'value', '{"packets":1}', 'noexist']);
    assert.equal(exists.status, 1);
    assert.match(exists.stderr, /EEXIST/);
    ok(['map', 'update', 'pinned', flows, 'key', key, 'value', '{"packets":1}', 'exist']);
    assert.match(ok(['map', 'lookup', 'pinned', flows, 'key', key]), /"packets": 1,\n\s+"bytes": 0/);
    ok(['map', 'delete', 'pinned', flows, 'key', key]);
    const missing = ebpf(['map', 'delete', 'pinned', flows, 'key', key]);
    assert.equal(missing.status, 1);
    assert.match(missing.stderr, /ENOENT/);
    assert.equal(json<DumpEntry[]>(['map', 'dump', 'pinned', flows]).length, 1);

    // An array by index (u32 keys), a count through the program's map; bytes in bpftool's form.
    const counters = join(pins.path, 'maps', 'counters');
    ok(['map', 'update', 'pinned', counters, 'key', '3', 'value', '0x2a', '0', '0', '0', '0', '0', '0', '0']);
    assert.deepEqual(json<DumpEntry>(['map', 'lookup', 'pinned', counters, 'key', '0x03', '0x00', '0x00', '0x00']).formatted, { key: 3, value: 42 });
    const bad = ebpf(['map', 'update', 'pinned', counters, 'key', '0x03', 'value', '1']);
    assert.equal(bad.status, 2);
    assert.match(bad.stderr, /key has 1 bytes, the map's key has 4/);
  });

  it('global data and maps without BTF', () => {
    using pins = scratchPins();
    json<LoadAllReport>(['prog', 'loadall', 'bpf/objects/globals.o', '--pin', pins.path]);
    const rodata = join(pins.path, 'maps', 'globals_rodata');
    const ours = json<DumpEntry[]>(['map', 'dump', 'pinned', rodata]);
    const theirs = bpftoolJson<DumpEntry[]>(['map', 'dump', 'pinned', rodata]);
    assert.deepEqual([ours[0]!.key, ours[0]!.value], [theirs[0]!.key, theirs[0]!.value]);
    // bpftool lists a DATASEC's variables as one-key objects; we give one object.
    const list = (theirs[0]!.formatted!.value as Record<string, Record<string, unknown>[]>)['.rodata']!;
    assert.deepEqual(ours[0]!.formatted!.value, Object.assign({}, ...list));
    const frozen = json<MapShowReport>(['map', 'show', 'pinned', rodata]);
    assert.equal(frozen.frozen, 1);
    assert.equal(frozen.name, 'globals.rodata');

    // A map without BTF: bytes in, bytes out (text like bpftool's).
    json<LoadAllReport>(['prog', 'loadall', 'bpf/objects/maps_legacy.o', '--pinmaps', join(pins.path, 'legacy')]);
    const count = join(pins.path, 'legacy', 'packet_count');
    ok(['map', 'update', 'pinned', count, 'key', '6', '0', '0', '0', 'value', 'hex', '0700000000000000']);
    assert.equal(ok(['map', 'lookup', 'pinned', count, 'key', '6', '0', '0', '0']), 'key: 06 00 00 00  value: 07 00 00 00 00 00 00 00\n');
    const dump = ok(['map', 'dump', 'id', String(json<MapShowReport>(['map', 'show', 'pinned', count]).id)]);
    assert.match(dump, /key: 06 00 00 00  value: 07 00 00 00 00 00 00 00\n/);
    assert.match(dump, /Found 256 elements\n$/);
  });
});
