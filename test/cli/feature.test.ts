// `ebpf feature list`: the VM's map types and helpers, from its tables.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { repoRoot } from '../support/shared.js';

const bin = join(repoRoot, 'bin', 'ebpf.js');
const ebpf = (args: string[]) => spawnSync(process.execPath, [bin, ...args], { cwd: repoRoot, encoding: 'utf8' });

interface Feature { id: number; name: string; status: string }

test('feature list -j: map types and helpers with their status', () => {
  const r = ebpf(['feature', 'list', '-j']);
  assert.equal(r.status, 0, r.stderr);
  const { mapTypes, helpers } = JSON.parse(r.stdout) as { mapTypes: Feature[]; helpers: Feature[] };
  const status = (list: Feature[], name: string): string | undefined => list.find((f) => f.name === name)?.status;
  for (const name of ['hash', 'array', 'lpm_trie', 'ringbuf', 'prog_array', 'bloom_filter']) assert.equal(status(mapTypes, name), 'implemented', name);
  for (const name of ['devmap', 'devmap_hash', 'cpumap', 'xskmap', 'cgroup_array', 'cgroup_storage', 'stack_trace']) assert.equal(status(mapTypes, name), 'implemented', name);
  for (const name of ['sockmap', 'sockhash']) assert.equal(status(mapTypes, name), 'implemented', name);
  for (const name of ['reuseport_sockarray']) assert.equal(status(mapTypes, name), 'not implemented', name);
  assert.equal(mapTypes.find((f) => f.id === 1)?.name, 'hash');
  for (const name of ['bpf_map_lookup_elem', 'bpf_tail_call', 'bpf_ringbuf_reserve', 'bpf_loop', 'bpf_ktime_get_ns']) assert.equal(status(helpers, name), 'implemented', name);
  // Packet helpers are the loader's too (one list: src/vm/object/helper-tables.ts).
  for (const name of ['bpf_xdp_adjust_head', 'bpf_skb_store_bytes', 'bpf_csum_diff', 'bpf_fib_lookup', 'bpf_redirect_map', 'bpf_timer_start']) {
    assert.equal(status(helpers, name), 'implemented', name);
  }
  assert.equal(status(helpers, 'bpf_skb_get_tunnel_key'), 'not implemented');
  assert.ok(helpers.every((f) => f.status === 'implemented' || f.status === 'not implemented'));
  assert.equal(helpers.find((f) => f.id === 12)?.name, 'bpf_tail_call');
});

test('feature list: a table per kind, and usage errors', () => {
  const r = ebpf(['feature', 'list']);
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /^map types \(\d+ of \d+\):\n/);
  assert.match(r.stdout, /\n {4}1 {2}hash +implemented\n/);
  assert.match(r.stdout, /\nhelpers \(\d+ of \d+\):\n/);
  assert.notEqual(ebpf(['feature']).status, 0);
  assert.notEqual(ebpf(['feature', 'frob']).status, 0);
});
