/**
 * Loading a program into the kernel (BPF_PROG_LOAD) and the {@link Program} handle that owns
 * its file descriptor.
 */
import { Attr, BPF_OBJ_NAME_LEN, HOST_LITTLE_ENDIAN, PROG_LOAD, cString } from './attr.js';
import { Errno } from './errno.js';
import { KernelError } from './error.js';
import { nativeSyscalls } from './native.js';
import type { Syscalls } from './syscalls.js';
import { Command, LogLevel, programTypeName } from './types.js';

/** What {@link loadProgram} needs: the kernel's BPF_PROG_LOAD fields, named for JavaScript. */
export interface LoadProgramOptions {
  /** `ProgramType.*` (UAPI number). */
  type: number;
  /** Encoded bytecode, 8 bytes per slot in host byte order (as `encodeProgram` returns it on x86/arm64). */
  instructions: Uint8Array;
  /** License string; GPL-only helpers need a GPL-compatible one (`'GPL'`, `'Dual MIT/GPL'`). */
  license: string;
  /**
   * Verifier log level (`LogLevel.*` bits). With 0, the default, the load runs without a log,
   * and only a failed load is retried at level 1 to capture the reason (as libbpf does).
   */
  logLevel?: number;
  /** Initial log buffer size in bytes (default 64 KiB); grown when the kernel reports truncation. */
  logSize?: number;
  /** `AttachType.*` the program will be attached with, for types whose checks depend on it. */
  expectedAttachType?: number;
  /** Name shown by bpftool: at most 15 bytes of `[A-Za-z0-9_.]`. */
  name?: string;
  /** `ProgramFlag.*` bits. */
  flags?: number;
  /** In-kernel BTF type id to attach to (fentry/fexit, LSM, struct_ops, …). */
  attachBtfId?: number;
  /**
   * The BTF object `attachBtfId` is in: a module's BTF (fd), or 0/undefined for vmlinux. The
   * kernel's `attach_btf_obj_fd`.
   */
  attachBtfObjFd?: number;
  /** A program to attach to (freplace, or fentry/fexit on a BPF program): the kernel's `attach_prog_fd`. */
  attachProgFd?: number;
  /**
   * The program's BTF (`prog_btf_fd`): the loaded object BTF that `funcInfo` and `lineInfo`
   * name types and strings in. Needed for global functions, BTF-typed helpers' arguments and
   * source lines in the verifier log.
   */
  btf?: { readonly fd: number } | number;
  /** One record per function (entry first), the kernel's `bpf_func_info`; needs `btf`. */
  funcInfo?: readonly FuncInfoRecord[];
  /** Source positions, the kernel's `bpf_line_info`; needs `btf`. */
  lineInfo?: readonly LineInfoRecord[];
  /**
   * File descriptors the instructions refer to by index (`fd_array`): module BTFs of kfunc
   * calls (`call` with `off` = index), maps with BPF_PSEUDO_MAP_IDX.
   */
  fdArray?: readonly number[];
  /** `kern_version` (checked by kprobe programs on kernels before 5.0). */
  kernelVersion?: number;
  /** Attempts when the kernel answers EAGAIN (a transient failure); default 5, as libbpf. */
  attempts?: number;
  /** Syscalls to use; the native ones by default. */
  syscalls?: Syscalls;
}

/** `struct bpf_func_info`: the BTF FUNC of the function starting at instruction slot `insnOff`. */
export interface FuncInfoRecord {
  readonly insnOff: number;
  readonly typeId: number;
}

/**
 * `struct bpf_line_info`: the source position of instruction slot `insnOff`. `fileNameOff` and
 * `lineOff` are offsets into the string section of the program's BTF.
 */
export interface LineInfoRecord {
  readonly insnOff: number;
  readonly fileNameOff: number;
  readonly lineOff: number;
  readonly line: number;
  readonly column: number;
}

const FUNC_INFO_REC_SIZE = 8;
const LINE_INFO_REC_SIZE = 16;
/** libbpf: PROG_LOAD_ATTEMPTS. */
const DEFAULT_ATTEMPTS = 5;

const DEFAULT_LOG_SIZE = 64 * 1024;
/** The kernel refuses log buffers larger than UINT_MAX >> 2 (kernel/bpf/log.c). */
const MAX_LOG_SIZE = 0x3fff_ffff;
const NAME_CHARS = /^[A-Za-z0-9_.]*$/;

/**
 * A program loaded into the kernel. Owns its fd: `close()` it, or bind it with `using`.
 * `log` is the verifier log when one was requested (empty otherwise).
 */
export class Program implements Disposable {
  readonly type: number;
  readonly name: string;
  readonly log: string;
  readonly #syscalls: Syscalls;
  #fd: number;

  constructor(fd: number, options: { type: number; name: string; log: string; syscalls: Syscalls }) {
    this.#fd = fd;
    this.type = options.type;
    this.name = options.name;
    this.log = options.log;
    this.#syscalls = options.syscalls;
  }

  /** The file descriptor; throws once the program is closed. */
  get fd(): number {
    if (this.#fd < 0) throw new Error(`program '${this.name}' is closed`);
    return this.#fd;
  }

  /** True until {@link close}. */
  get open(): boolean {
    return this.#fd >= 0;
  }

  /** The syscalls this program was loaded with (and will be run and closed with). */
  get syscalls(): Syscalls {
    return this.#syscalls;
  }

  /** Closes the fd; the kernel frees the program once nothing else holds it. Idempotent. */
  close(): void {
    if (this.#fd < 0) return;
    const fd = this.#fd;
    this.#fd = -1;
    const ret = this.#syscalls.close(fd);
    if (ret < 0) throw new KernelError(`close program '${this.name}' (fd ${fd})`, -ret);
  }

  [Symbol.dispose](): void {
    this.close();
  }
}

/**
 * Loads `instructions` as a program of `type` (BPF_PROG_LOAD) and returns its handle.
 * Throws {@link KernelError} when the kernel refuses; a verifier rejection carries the log in
 * `log` and its error line in the message:
 * `load program 'x' (BPF_PROG_TYPE_XDP): EACCES (Permission denied): R0 !read_ok`.
 *
 * @example
 * using prog = loadProgram({ type: ProgramType.SOCKET_FILTER, license: 'GPL',
 *   instructions: encodeProgram(assembleConformance('mov %r0, 1\nexit')) });
 */
export function loadProgram(options: LoadProgramOptions): Program {
  const syscalls = options.syscalls ?? nativeSyscalls();
  const name = options.name ?? '';
  if (!NAME_CHARS.test(name) || name.length >= BPF_OBJ_NAME_LEN) {
    throw new TypeError(`program name '${name}': at most ${BPF_OBJ_NAME_LEN - 1} characters of [A-Za-z0-9_.]`);
  }
  if (options.instructions.length % 8 !== 0 || options.instructions.length === 0) {
    throw new RangeError(`program '${name}': ${options.instructions.length} bytes is not a whole number of 8-byte instructions`);
  }
  const context = `load program ${name ? `'${name}' ` : ''}(${programTypeName(options.type)})`;
  const logLevel = options.logLevel ?? 0;
  let logSize = Math.min(options.logSize ?? DEFAULT_LOG_SIZE, MAX_LOG_SIZE);

  let attempt = attemptLoad(syscalls, options, name, logLevel, logLevel ? logSize : 0);
  // A log that did not fit: the kernel says how much it needed (6.4+) or we double.
  while (attempt.truncated && logSize < MAX_LOG_SIZE) {
    logSize = Math.min(Math.max(attempt.logTrueSize, logSize * 2), MAX_LOG_SIZE);
    attempt = attemptLoad(syscalls, options, name, attempt.logLevel, logSize);
  }
  if (attempt.result >= 0) {
    return new Program(attempt.result, { type: options.type, name, log: attempt.log, syscalls });
  }
  const errno = -attempt.result;
  if (attempt.logLevel === 0) {
    // Retry with a log to say why, as libbpf does; keep the first errno if the retry differs.
    let retry = attemptLoad(syscalls, options, name, LogLevel.LEVEL1, logSize);
    while (retry.truncated && logSize < MAX_LOG_SIZE) {
      logSize = Math.min(Math.max(retry.logTrueSize, logSize * 2), MAX_LOG_SIZE);
      retry = attemptLoad(syscalls, options, name, LogLevel.LEVEL1, logSize);
    }
    if (retry.result >= 0) {
      // Loaded with a log although it failed without one: keep it, the kernel accepted it.
      return new Program(retry.result, { type: options.type, name, log: retry.log, syscalls });
    }
    throw loadError(context, -retry.result || errno, retry.log);
  }
  throw loadError(context, errno, attempt.log);
}

interface Attempt {
  result: number;
  log: string;
  logLevel: number;
  logTrueSize: number;
  /** The log did not fit in the buffer (the kernel returned ENOSPC because of it). */
  truncated: boolean;
}

function attemptLoad(syscalls: Syscalls, options: LoadProgramOptions, name: string, logLevel: number, logSize: number): Attempt {
  return syscalls.withMemory((memory) => {
    const log = logLevel ? memory.output(logSize) : undefined;
    const btfFd = options.btf === undefined ? 0 : typeof options.btf === 'number' ? options.btf : options.btf.fd;
    const funcInfo = btfFd ? options.funcInfo ?? [] : [];
    const lineInfo = btfFd ? options.lineInfo ?? [] : [];
    const fdArray = options.fdArray ?? [];
    const attr = new Attr(PROG_LOAD.SIZE)
      .u32(PROG_LOAD.prog_type, options.type)
      .u32(PROG_LOAD.insn_cnt, options.instructions.length / 8)
      .u64(PROG_LOAD.insns, memory.input(options.instructions))
      .u64(PROG_LOAD.license, memory.input(cString(options.license)))
      .u32(PROG_LOAD.log_level, logLevel)
      .u32(PROG_LOAD.log_size, log ? logSize : 0)
      .u64(PROG_LOAD.log_buf, log ? log.address : 0n)
      .u32(PROG_LOAD.kern_version, options.kernelVersion ?? 0)
      .u32(PROG_LOAD.prog_flags, options.flags ?? 0)
      .cstring(PROG_LOAD.prog_name, name, BPF_OBJ_NAME_LEN)
      .u32(PROG_LOAD.expected_attach_type, options.expectedAttachType ?? 0)
      .u32(PROG_LOAD.prog_btf_fd, btfFd)
      .u32(PROG_LOAD.attach_btf_id, options.attachBtfId ?? 0)
      .u32(PROG_LOAD.attach_prog_fd, options.attachProgFd ?? options.attachBtfObjFd ?? 0);
    if (funcInfo.length > 0) {
      attr.u32(PROG_LOAD.func_info_rec_size, FUNC_INFO_REC_SIZE)
        .u64(PROG_LOAD.func_info, memory.input(encodeRecords(funcInfo.map((r) => [r.insnOff, r.typeId]))))
        .u32(PROG_LOAD.func_info_cnt, funcInfo.length);
    }
    if (lineInfo.length > 0) {
      attr.u32(PROG_LOAD.line_info_rec_size, LINE_INFO_REC_SIZE)
        .u64(PROG_LOAD.line_info, memory.input(encodeRecords(lineInfo.map((r) =>
          [r.insnOff, r.fileNameOff, r.lineOff, ((r.line << LINE_COL_SHIFT) | (r.column & LINE_COL_MASK)) >>> 0]))))
        .u32(PROG_LOAD.line_info_cnt, lineInfo.length);
    }
    if (fdArray.length > 0) {
      attr.u64(PROG_LOAD.fd_array, memory.input(encodeRecords(fdArray.map((fd) => [fd]))));
    }
    // A transient failure (EAGAIN: the verifier was interrupted, kernel/bpf/syscall.c) is
    // retried as libbpf's sys_bpf_prog_load does.
    let attempts = Math.max(1, options.attempts ?? DEFAULT_ATTEMPTS);
    let result: number;
    do {
      result = syscalls.bpf(Command.PROG_LOAD, attr.bytes);
    } while (result === -Errno.EAGAIN && --attempts > 0);
    const logTrueSize = attr.readU32(PROG_LOAD.log_true_size);
    const text = log ? decodeLog(log.read()) : '';
    const truncated = log !== undefined && result === -Errno.ENOSPC && (logTrueSize > logSize || logTrueSize === 0);
    return { result, log: text, logLevel, logTrueSize, truncated };
  });
}

/** `u32` words in host byte order: the records of func_info, line_info and fd_array. */
function encodeRecords(records: readonly (readonly number[])[]): Uint8Array {
  const words = records.reduce((n, r) => n + r.length, 0);
  const out = new Uint8Array(words * 4);
  const view = new DataView(out.buffer);
  let at = 0;
  for (const r of records) {
    for (const w of r) {
      view.setUint32(at, w >>> 0, HOST_LITTLE_ENDIAN);
      at += 4;
    }
  }
  return out;
}

/** `bpf_line_info.line_col`: the line number above the low 10 bits of the column (include/uapi/linux/bpf.h). */
const LINE_COL_SHIFT = 10;
const LINE_COL_MASK = 0x3ff;

/** The log buffer up to its NUL, as text. */
function decodeLog(bytes: Uint8Array): string {
  const end = bytes.indexOf(0);
  return new TextDecoder().decode(end < 0 ? bytes : bytes.subarray(0, end));
}

function loadError(context: string, errno: number, log: string): KernelError {
  const detail = verifierMessage(log);
  return new KernelError(context, errno, detail ? { log, detail } : { log });
}

/**
 * The verifier's reason from its log: the last line that is not the statistics trailer
 * (`processed N insns …`, `verification time …`, `stack depth …`).
 */
export function verifierMessage(log: string): string | undefined {
  const lines = log.split('\n').map((line) => line.trim()).filter((line) => line !== '');
  for (let i = lines.length - 1; i >= 0; i--) {
    const line = lines[i]!;
    if (/^(processed \d+ insns|verification time|stack depth|mark_precise|-- END PROG LOAD LOG --)/.test(line)) continue;
    return line;
  }
  return undefined;
}
