#!/usr/bin/env node
// Writes examples/traffic.pcap: 300 Ethernet frames of mixed traffic (exampleTraffic in
// bench/pcap.ts), about one in six from a source the example firewall (examples/xdp_firewall.c)
// blocks. Deterministic: rerunning it gives the same bytes. Needs a build (npx tsc -p .).
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { exampleTraffic } from '../dist/bench/pcap.js';
import { writePcap } from '../dist/src/net/index.js';

const out = fileURLToPath(new URL('../examples/traffic.pcap', import.meta.url));
const start = 1_763_769_600_000_000_000n; // 2025-11-22T00:00:00Z, in ns
const packets = exampleTraffic(300, 1).map((data, i) => ({ data, timestamp: start + BigInt(i) * 1_000_000n }));
writeFileSync(out, writePcap(packets));
console.log(`wrote ${out}: ${packets.length} packets`);
