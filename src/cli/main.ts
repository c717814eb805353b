/** The `ebpf` command line: a table of subcommands, each with `--help`. */
import { readFileSync, writeFileSync } from 'node:fs';
import { EbpfError } from '../errors.js';
import { type Command, type Io, UsageError } from './command.js';
import { asmCommand } from './asm.js';
import { btfCommand } from './btf.js';
import { conformancePlugin } from './conformance-plugin.js';
import { disasmCommand } from './disasm.js';
import { execCommand } from './exec.js';
import { objectCommand } from './object.js';
import { verifyCommand } from './verify.js';
import { mapCommand } from './map.js';
import { progCommand } from './prog.js';
import { execsnoopCommand } from './execsnoop.js';
import { opensnoopCommand } from './opensnoop.js';
import { helloCommand } from './hello.js';
import { xdpFirewallCommand } from './xdp-firewall.js';
import { tcRedirectCommand } from './tc-redirect.js';
import { sockmapAccelCommand } from './sockmap-accel.js';
import { runCommand } from './run.js';
import { featureCommand } from './feature.js';

const COMMANDS: readonly Command[] = [asmCommand, disasmCommand, execCommand, btfCommand, objectCommand, progCommand, mapCommand, verifyCommand, conformancePlugin,
  execsnoopCommand, opensnoopCommand, helloCommand, xdpFirewallCommand, tcRedirectCommand, sockmapAccelCommand, runCommand, featureCommand];

const USAGE = `Usage: ebpf COMMAND [ARGS...]

eBPF for TypeScript: assemble, disassemble and run eBPF programs.

Commands:
${COMMANDS.map((c) => `  ${c.name.padEnd(20)}${c.summary}`).join('\n')}

Run 'ebpf COMMAND --help' for a command's options.`;

/** Process I/O for the real command. */
export const processIo: Io = {
  out: (text) => { process.stdout.write(text); },
  err: (text) => { process.stderr.write(text); },
  stdin: async () => {
    const chunks: Buffer[] = [];
    for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
    return new Uint8Array(Buffer.concat(chunks));
  },
  readFile: (path) => new Uint8Array(readFileSync(path)),
  writeFile: (path, data) => writeFileSync(path, data),
};

/** Runs the command line `args` (without `node` and the script); returns the exit code. */
export async function main(args: string[], io: Io = processIo): Promise<number> {
  const [name, ...rest] = args;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    io.out(`${USAGE}\n`);
    return name === undefined ? 2 : 0;
  }
  const command = COMMANDS.find((c) => c.name === name);
  if (command === undefined) {
    io.err(`ebpf: unknown command '${name}'\n\n${USAGE}\n`);
    return 2;
  }
  if (rest.includes('--help') || rest.includes('-h')) {
    io.out(`${command.usage}\n`);
    return 0;
  }
  try {
    return await command.run(rest, io);
  } catch (err) {
    if (err instanceof UsageError || (err as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')) {
      io.err(`ebpf ${name}: ${(err as Error).message}\n\n${command.usage}\n`);
      return 2;
    }
    if (err instanceof EbpfError) {
      io.err(`ebpf ${name}: ${err.message}\n`);
      return 1;
    }
    const e = err as NodeJS.ErrnoException;
    if (typeof e?.code === 'string' && e.syscall !== undefined) {
      io.err(`ebpf ${name}: ${e.message}\n`);
      return 1;
    }
    io.err(`ebpf ${name}: internal error: ${e?.stack ?? String(err)}\n`);
    return 70;
  }
}
