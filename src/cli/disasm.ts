/** `ebpf disasm FILE`: disassembles raw bytecode or an ELF object, like llvm-objdump -d. */
import { parseArgs } from 'node:util';
import { parseElf } from '../elf/index.js';
import { disassemble } from '../isa/disasm.js';
import { disassembleConformance } from '../isa/conformance-disasm.js';
import { objdumpListing } from '../isa/objdump.js';
import { basename } from 'node:path';
import { type Command, UsageError } from './command.js';
import { isElf, loadProgramFile, type Syntax } from './program-file.js';

export const disasmCommand: Command = {
  name: 'disasm',
  summary: 'disassemble raw bytecode or an ELF object (llvm-objdump -d output, or conformance syntax)',
  usage: `Usage: ebpf disasm FILE [--section NAME] [--syntax llvm|conformance] [--no-show-raw-insn] [--lossless]

Prints the instructions of FILE. For an ELF object the output is what
'llvm-objdump-19 -d FILE' prints (every code section, or only --section NAME).
Raw bytecode (8-byte slots) is listed one instruction per line.

  --section NAME        only this section of an ELF object
  --syntax SYNTAX       llvm (default: the kernel/LLVM syntax, r0 = 1) or
                        conformance (the bpf_conformance/uBPF syntax, mov %r0, 1)
  --no-show-raw-insn    leave out the instruction bytes
  --lossless            print forms that 'ebpf asm' turns back into the same bytes
                        where llvm-objdump's text loses information`,
  async run(args, io) {
    const { values, positionals } = parseArgs({
      args,
      allowPositionals: true,
      options: {
        section: { type: 'string', short: 'j' },
        syntax: { type: 'string' },
        'no-show-raw-insn': { type: 'boolean' },
        lossless: { type: 'boolean' },
      },
    });
    const file = positionals[0];
    if (file === undefined || positionals.length > 1) throw new UsageError('expected one FILE');
    const syntax = (values.syntax ?? 'llvm') as Syntax;
    if (syntax !== 'llvm' && syntax !== 'conformance') throw new UsageError(`unknown syntax '${values.syntax}'`);
    const bytes = io.readFile(file);
    const rawBytes = !values['no-show-raw-insn'];
    const lossless = values.lossless ?? false;
    if (isElf(bytes) && syntax === 'llvm') {
      const elf = parseElf(bytes);
      const only = values.section;
      if (only !== undefined && !elf.sections.some((s) => s.name === only)) throw new UsageError(`no section '${only}'`);
      const view = only === undefined ? elf : { ...elf, sections: elf.sections.map((s) => (s.name === only ? s : { ...s, flags: 0 })) };
      io.out(objdumpListing(view, { fileName: file, rawBytes, lossless }));
      return 0;
    }
    const program = loadProgramFile(file, bytes, { section: values.section });
    if (syntax === 'conformance') io.out(disassembleConformance(program));
    else io.out(`${disassemble(program, { rawBytes, lossless, name: basename(file) }).join('\n')}\n`);
    return 0;
  },
};
