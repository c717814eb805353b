/**
 * Loading BTF into the kernel (BPF_BTF_LOAD) and the {@link KernelBtf} handle: the fd maps and
 * programs name for their key, value and function types.
 */
import { Attr, BTF_LOAD } from './attr.js';
import { EbpfError } from '../errors.js';
import { Errno } from './errno.js';
import { KernelError } from './error.js';
import { fdById } from './ids.js';
import { btfInfo, type BtfInfo } from './info.js';
import { nativeSyscalls } from './native.js';
import { pinFd } from './object-fd.js';
import { verifierMessage } from './program.js';
import type { Syscalls } from './syscalls.js';
import { Command, LogLevel } from './types.js';

/** Options of {@link loadBtf}. */
export interface LoadBtfOptions {
  /**
   * Log level (`LogLevel.*`). With 0, the default, a failed load is retried at level 1 to say
   * why, as for programs.
   */
  logLevel?: number;
  /** Log buffer size in bytes (default 64 KiB, grown when the kernel reports truncation). */
  logSize?: number;
  syscalls?: Syscalls;
}

const DEFAULT_LOG_SIZE = 64 * 1024;
const MAX_LOG_SIZE = 0x3fff_ffff;

/**
 * BTF loaded into the kernel. Owns its fd: `close()` it, or bind it with `using`; maps and
 * programs created with it keep the BTF alive on their own.
 */
export class KernelBtf implements Disposable {
  /** The kernel's id of the BTF object. */
  readonly id: number;
  /** The BTF verifier's log, when a log level was asked for. */
  readonly log: string;
  readonly #syscalls: Syscalls;
  #fd: number;

  constructor(fd: number, options: { id: number; log?: string; syscalls: Syscalls }) {
    this.#fd = fd;
    this.id = options.id;
    this.log = options.log ?? '';
    this.#syscalls = options.syscalls;
  }

  /** A handle owning `fd` (a BTF fd from elsewhere). */
  static fromFd(fd: number, options: { syscalls?: Syscalls } = {}): KernelBtf {
    const syscalls = options.syscalls ?? nativeSyscalls();
    return new KernelBtf(fd, { id: btfInfo(fd, { syscalls }).id, syscalls });
  }

  /** The file descriptor; throws once closed. */
  get fd(): number {
    if (this.#fd < 0) throw new EbpfError(`BTF id ${this.id} is closed`);
    return this.#fd;
  }

  get open(): boolean {
    return this.#fd >= 0;
  }

  get syscalls(): Syscalls {
    return this.#syscalls;
  }

  /** The kernel's info about this BTF; with `data: true` also its raw bytes as the kernel holds them. */
  info(options: { data?: boolean } = {}): BtfInfo {
    return btfInfo(this.fd, { ...options, syscalls: this.#syscalls });
  }

  /** Pins the BTF object at `path`. */
  pin(path: string): void {
    pinFd(this.#syscalls, this.fd, path, `BTF id ${this.id}`);
  }

  /** Closes the fd. Idempotent. */
  close(): void {
    if (this.#fd < 0) return;
    const fd = this.#fd;
    this.#fd = -1;
    const ret = this.#syscalls.close(fd);
    if (ret < 0) throw new KernelError(`close BTF id ${this.id} (fd ${fd})`, -ret);
  }

  [Symbol.dispose](): void {
    this.close();
  }
}

/**
 * Loads raw BTF (header, types, strings — as `serializeBtf` writes it) into the kernel.
 * Throws {@link KernelError} with the kernel's BTF log when it is refused:
 * `load BTF: EINVAL (Invalid argument): [2] STRUCT foo size=4 Invalid member`.
 */
export function loadBtf(bytes: Uint8Array, options: LoadBtfOptions = {}): KernelBtf {
  const syscalls = options.syscalls ?? nativeSyscalls();
  const logLevel = options.logLevel ?? 0;
  let logSize = Math.min(options.logSize ?? DEFAULT_LOG_SIZE, MAX_LOG_SIZE);
  let attempt = attemptLoad(syscalls, bytes, logLevel, logLevel ? logSize : 0);
  while (attempt.truncated && logSize < MAX_LOG_SIZE) {
    logSize = Math.min(Math.max(attempt.logTrueSize, logSize * 2), MAX_LOG_SIZE);
    attempt = attemptLoad(syscalls, bytes, logLevel, logSize);
  }
  if (attempt.result < 0 && logLevel === 0) {
    const errno = -attempt.result;
    let retry = attemptLoad(syscalls, bytes, LogLevel.LEVEL1, logSize);
    while (retry.truncated && logSize < MAX_LOG_SIZE) {
      logSize = Math.min(Math.max(retry.logTrueSize, logSize * 2), MAX_LOG_SIZE);
      retry = attemptLoad(syscalls, bytes, LogLevel.LEVEL1, logSize);
    }
    attempt = retry.result < 0 ? { ...retry, result: -(-retry.result || errno) } : retry;
  }
  if (attempt.result < 0) {
    const detail = verifierMessage(attempt.log);
    throw new KernelError('load BTF', -attempt.result, detail ? { log: attempt.log, detail } : { log: attempt.log });
  }
  const fd = attempt.result;
  try {
    return new KernelBtf(fd, { id: btfInfo(fd, { syscalls }).id, log: attempt.log, syscalls });
  } catch (err) {
    syscalls.close(fd);
    throw err;
  }
}

/** The BTF object with `id` (vmlinux, a module, or one a program loaded), as a handle owning a new fd. */
export function getBtfById(id: number, options: { syscalls?: Syscalls } = {}): KernelBtf {
  const syscalls = options.syscalls ?? nativeSyscalls();
  const fd = fdById('btf', id, { syscalls });
  return new KernelBtf(fd, { id, syscalls });
}

interface Attempt {
  result: number;
  log: string;
  logTrueSize: number;
  truncated: boolean;
}

function attemptLoad(syscalls: Syscalls, bytes: Uint8Array, logLevel: number, logSize: number): Attempt {
  return syscalls.withMemory((memory) => {
    const log = logLevel ? memory.output(logSize) : undefined;
    const attr = new Attr(BTF_LOAD.SIZE)
      .u64(BTF_LOAD.btf, memory.input(bytes))
      .u64(BTF_LOAD.btf_log_buf, log?.address ?? 0n)
      .u32(BTF_LOAD.btf_size, bytes.length)
      .u32(BTF_LOAD.btf_log_size, log ? logSize : 0)
      .u32(BTF_LOAD.btf_log_level, logLevel);
    const result = syscalls.bpf(Command.BTF_LOAD, attr.bytes);
    const logTrueSize = attr.readU32(BTF_LOAD.btf_log_true_size);
    let text = '';
    if (log) {
      const raw = log.read();
      const end = raw.indexOf(0);
      text = new TextDecoder().decode(end < 0 ? raw : raw.subarray(0, end));
    }
    const truncated = log !== undefined && result === -Errno.ENOSPC && (logTrueSize > logSize || logTrueSize === 0);
    return { result, log: text, logTrueSize, truncated };
  });
}
