// The kernel's view: `bpftool prog loadall` loads each loadable fixture (libbpf opens, links
// and creates everything), and the types and map parameters the kernel reports must be the
// ones our ObjectSpec holds. Pins live in a scratch bpffs directory, removed afterwards.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadObjectSpec, MapFlag, mapTypeShortName, programTypeShortName, type MapSpec } from '../../src/object/index.js';
import { kernelSkip } from '../support/kernel.js';
import { needTool } from '../support/tools.js';
import { bpftool, bpftoolJson, bpftoolRun, libbpfDataMapName, objectsDir, scratchBpffs } from './support.js';

interface KernelProg { name: string; type: string; map_ids?: number[] }
interface KernelMap { name: string; type: string; flags: number; bytes_key: number; bytes_value: number; max_entries: number }

// maps_pinned.o is left out: bpftool would pin its LIBBPF_PIN_BY_NAME map in the real /sys/fs/bpf.
const fixtures = ['globals.o', 'maps_btf.o', 'sections_net.o', 'subprogs.o'];

test('bpftool prog loadall: program types and map parameters match', { skip: needTool(bpftool, 'bpftool') || kernelSkip() }, () => {
  for (const f of fixtures) {
    const file = join(objectsDir, f);
    const spec = loadObjectSpec(readFileSync(file));
    const bpffs = scratchBpffs();
    if ('skip' in bpffs) throw new Error(bpffs.skip);
    try {
      const progDir = join(bpffs.path, 'progs');
      const mapDir = join(bpffs.path, 'maps');
      const r = bpftoolRun(['prog', 'loadall', file, progDir, 'pinmaps', mapDir]);
      assert.equal(r.status, 0, `${f}: bpftool prog loadall: ${r.stderr}`);

      const pinnedProgs = readdirSync(progDir).sort();
      assert.deepEqual(pinnedProgs, spec.programs.filter((p) => p.autoload).map((p) => p.name).sort(), `${f}: loaded programs`);
      for (const name of pinnedProgs) {
        const kernel = bpftoolJson<KernelProg>(['prog', 'show', 'pinned', join(progDir, name)]);
        const ours = spec.program(name)!;
        assert.equal(kernel.type, programTypeShortName(ours.type), `${f}/${name}: program type`);
        // The kernel keeps 15 characters; bpftool prints the full name from the program's BTF.
        assert.ok(name.startsWith(kernel.name), `${f}/${name}: kernel name ${kernel.name}`);
      }

      // libbpf pins each map at its name with dots made underscores.
      const byPin = new Map<string, MapSpec>(spec.maps.map((m) => {
        const libbpfName = ['data', 'rodata', 'bss', 'kconfig'].includes(m.origin) ? libbpfDataMapName(file, m.name) : m.name;
        return [libbpfName.replace(/\./g, '_'), m];
      }));
      const pinnedMaps = existsSync(mapDir) ? readdirSync(mapDir).sort() : [];
      assert.deepEqual(pinnedMaps, [...byPin.keys()].sort(), `${f}: maps`);
      for (const pin of pinnedMaps) {
        const kernel = bpftoolJson<KernelMap>(['map', 'show', 'pinned', join(mapDir, pin)]);
        const ours = byPin.get(pin)!;
        // bpftool 7.1 bundles a libbpf older than "only add BPF_F_MMAPABLE flag for data maps
        // with global vars" (libbpf 3cd45b66): it maps every global-data map. The system's
        // libbpf, which the libbpf-oracle tests compare with exactly, has the newer rule.
        const mmapable = ['data', 'rodata', 'bss'].includes(ours.origin) ? MapFlag.MMAPABLE : 0;
        assert.deepEqual(
          { type: kernel.type, key: kernel.bytes_key, value: kernel.bytes_value, max: kernel.max_entries, flags: kernel.flags | (ours.flags & mmapable) | mmapable },
          // The kernel sizes a perf event array with no max_entries to the number of CPUs (libbpf does).
          { type: mapTypeShortName(ours.type), key: ours.keySize, value: ours.valueSize, max: ours.maxEntries || kernel.max_entries, flags: ours.flags | mmapable },
          `${f}: map ${ours.name}`);
      }
    } finally {
      bpffs.cleanup();
    }
  }
});
