/** `ebpf asm FILE`: assembles either syntax into raw bytecode. */
import { parseArgs } from 'node:util';
import { encodeProgram } from '../isa/encode.js';
import { type Command, toHex, UsageError } from './command.js';
import { assembleText, type Syntax } from './program-file.js';

export const asmCommand: Command = {
  name: 'asm',
  summary: 'assemble a program (kernel/LLVM syntax or conformance syntax) into bytecode',
  usage: `Usage: ebpf asm FILE [-o OUT.bin] [--syntax llvm|conformance] [--big-endian]

Assembles FILE ('-' for standard input). The syntax is detected ('%r1' means the
bpf_conformance syntax) unless --syntax is given. With -o the bytecode (8-byte slots) is
written to OUT; otherwise it is printed as hex, one instruction per line.
Errors name the line and column.`,
  async run(args, io) {
    const { values, positionals } = parseArgs({
      args,
      allowPositionals: true,
      options: {
        output: { type: 'string', short: 'o' },
        syntax: { type: 'string' },
        'big-endian': { type: 'boolean' },
      },
    });
    const file = positionals[0];
    if (file === undefined || positionals.length > 1) throw new UsageError('expected one FILE');
    const syntax = values.syntax as Syntax | undefined;
    if (syntax !== undefined && syntax !== 'llvm' && syntax !== 'conformance') throw new UsageError(`unknown syntax '${syntax}'`);
    const text = new TextDecoder().decode(file === '-' ? await io.stdin() : io.readFile(file));
    const bytes = encodeProgram(assembleText(text, syntax), { bigEndian: values['big-endian'] ?? false });
    if (values.output !== undefined) {
      io.writeFile(values.output, bytes);
    } else {
      const hex = toHex(bytes);
      io.out(`${(hex.match(/.{16}/g) ?? []).join('\n')}\n`);
    }
    return 0;
  },
};
