/** `ebpf btf dump FILE`: prints BTF like `bpftool btf dump file FILE` (raw, JSON or C). */
import { basename, dirname } from 'node:path';
import { parseArgs } from 'node:util';
import { EbpfError } from '../errors.js';
import { parseElf } from '../elf/index.js';
import type { Btf } from '../btf/btf.js';
import { btfFromElf, isRawBtf, parseBtf } from '../btf/parse.js';
import { formatBtfJson, formatBtfRaw } from '../btf/raw-dump.js';
import { formatBtfAsC } from '../btf/c-dump.js';
import { type Command, type Io, UsageError } from './command.js';
import { isElf } from './program-file.js';

/** Where the kernel publishes its BTF; module BTF there is split BTF on `vmlinux`. */
const KERNEL_BTF_DIR = '/sys/kernel/btf';

export const btfCommand: Command = {
  name: 'btf',
  summary: "print the BTF of an object or a raw BTF file (bpftool btf dump's output)",
  usage: `Usage: ebpf btf dump FILE [--format raw|c] [-j [-p]] [--base FILE]

Prints the BTF types of FILE: an ELF object (its .BTF section) or a raw BTF
file such as /sys/kernel/btf/vmlinux. The output is what
'bpftool btf dump file FILE [format c]' prints.

  --format raw|c   raw (default): one '[id] KIND 'name' ...' line per type;
                   c: C declarations of every type (vmlinux.h)
  -j, --json       raw dump as JSON (bpftool -j)
  -p, --pretty     indented JSON (bpftool -j -p)
  --base FILE      base BTF of a split BTF (bpftool -B); for module BTF under
                   ${KERNEL_BTF_DIR}/ the base is ${KERNEL_BTF_DIR}/vmlinux by default`,
  async run(args, io) {
    const { values, positionals } = parseArgs({
      args,
      allowPositionals: true,
      options: {
        format: { type: 'string' },
        json: { type: 'boolean', short: 'j' },
        pretty: { type: 'boolean', short: 'p' },
        base: { type: 'string', short: 'B' },
      },
    });
    const [sub, file, ...extra] = positionals;
    if (sub !== 'dump') throw new UsageError(sub === undefined ? 'expected a subcommand (dump)' : `unknown subcommand '${sub}'`);
    if (file === undefined || extra.length > 0) throw new UsageError('expected one FILE');
    const format = values.format ?? 'raw';
    if (format !== 'raw' && format !== 'c') throw new UsageError(`unknown format '${format}' (raw or c)`);
    const json = values.json === true || values.pretty === true;
    if (format === 'c' && json) throw new UsageError('JSON output for the C dump is not supported');

    const basePath = values.base ?? defaultBase(file);
    const base = basePath === undefined ? undefined : readBtf(io, basePath);
    const btf = readBtf(io, file, base);
    if (format === 'c') io.out(formatBtfAsC(btf));
    else if (json) io.out(formatBtfJson(btf, { pretty: values.pretty === true }));
    else io.out(formatBtfRaw(btf));
    return 0;
  },
};

/** bpftool's rule: module BTF in /sys/kernel/btf is split BTF on vmlinux. */
function defaultBase(file: string): string | undefined {
  if (dirname(file) !== KERNEL_BTF_DIR || basename(file) === 'vmlinux') return undefined;
  return `${KERNEL_BTF_DIR}/vmlinux`;
}

/** The BTF of a raw BTF file or of an ELF object's .BTF section. */
function readBtf(io: Io, path: string, base?: Btf): Btf {
  const bytes = io.readFile(path);
  try {
    if (isRawBtf(bytes)) return parseBtf(bytes, { base });
    if (!isElf(bytes)) throw new EbpfError('neither raw BTF nor an ELF object');
    const btf = btfFromElf(parseElf(bytes), { base });
    if (btf === undefined) throw new EbpfError('the object has no .BTF section');
    return btf;
  } catch (err) {
    throw EbpfError.wrap(`read BTF from '${path}'`, err);
  }
}
