/** `ebpf exec FILE`: runs raw bytecode or an assembly file in the interpreter and prints r0. */
import { execute } from '../vm/index.js';
import { type Command, parseHex, UsageError } from './command.js';
import { loadProgramFile } from './program-file.js';
import { parseArgs } from 'node:util';

export const execCommand: Command = {
  name: 'exec',
  summary: 'run a program (raw .bin, assembly, or an ELF section) in the interpreter; print r0',
  usage: `Usage: ebpf exec FILE [--mem HEX | --mem-file FILE] [--section NAME] [--max-insns N] [-j]

Runs FILE in the userspace interpreter and prints r0 (decimal and hex). FILE is raw
bytecode (8-byte slots), assembly text (.s/.asm, either syntax), or an ELF object
(first program section, or --section NAME). Memory given with --mem is placed in a
region whose address is in r1 and length in r2. No root needed.

  --mem HEX        bytes of memory, e.g. "00 01 02 03"
  --mem-file FILE  memory from a file
  --max-insns N    stop after N instructions (default 10000000)
  -j, --json       print {"r0": "...", "instructions": N}`,
  async run(args, io) {
    const { values, positionals } = parseArgs({
      args,
      allowPositionals: true,
      options: {
        mem: { type: 'string' },
        'mem-file': { type: 'string' },
        section: { type: 'string' },
        'max-insns': { type: 'string' },
        json: { type: 'boolean', short: 'j' },
      },
    });
    const file = positionals[0];
    if (file === undefined || positionals.length > 1) throw new UsageError('expected one FILE');
    const program = loadProgramFile(file, io.readFile(file), { section: values.section });
    const memory = values['mem-file'] !== undefined ? io.readFile(values['mem-file'])
      : values.mem !== undefined ? parseHex(values.mem, '--mem') : undefined;
    const max = values['max-insns'] === undefined ? undefined : Number(values['max-insns']);
    if (max !== undefined && !(Number.isInteger(max) && max > 0)) throw new UsageError('--max-insns must be a positive integer');
    const result = execute(program, { memory, maxInstructions: max });
    if (values.json) {
      io.out(`${JSON.stringify({ r0: result.r0.toString(), r0Hex: `0x${result.r0.toString(16)}`, instructions: result.instructions })}\n`);
    } else {
      io.out(`r0 = ${result.r0} (0x${result.r0.toString(16)}), ${result.instructions} instructions\n`);
    }
    return 0;
  },
};
