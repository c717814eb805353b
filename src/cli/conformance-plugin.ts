/**
 * `ebpf conformance-plugin`: the bpf_conformance plugin protocol. The suite's runner writes
 * the program as hex bytes to standard input and passes the memory as hex in the first
 * argument; the plugin prints r0 in hex, or exits non-zero with the error text.
 */
import { conformanceHelpers, execute } from '../vm/index.js';
import { type Command, parseHex, UsageError } from './command.js';

export const conformancePlugin: Command = {
  name: 'conformance-plugin',
  summary: 'run one bpf_conformance program: hex program on stdin, hex memory in argv, r0 out',
  usage: `Usage: ebpf conformance-plugin [--interpret] [MEMORY-HEX]

Reads an eBPF program as hex bytes (8-byte little-endian slots) from standard input,
runs it in the interpreter with MEMORY-HEX (if given) in memory at r1 and its length in r2,
and prints r0 in hex. Helper 5 is uBPF's unwind helper, as the suite expects.
Exits 1 with the error on standard error if the program is invalid or faults.`,
  async run(args, io) {
    const positional = args.filter((a) => {
      if (a === '--interpret') return false;
      if (a.startsWith('--')) throw new UsageError(`unknown option ${a}`);
      return true;
    });
    if (positional.length > 1) throw new UsageError('expected at most one argument, the memory in hex');
    const program = parseHex(new TextDecoder().decode(await io.stdin()), 'program on standard input');
    const memory = positional[0] === undefined ? new Uint8Array(0) : parseHex(positional[0], 'memory');
    const { r0 } = execute(program, { memory, helpers: conformanceHelpers });
    io.out(`${r0.toString(16)}\n`);
    return 0;
  },
};
