/**
 * {@link Link}: a program attached somewhere, until `close()`. Most attachments are kernel
 * bpf_link objects ({@link BpfLink}: an fd that can be pinned, queried, updated and detached);
 * the rest are older mechanisms with the same lifetime rules (a perf event with a program set
 * by ioctl, BPF_PROG_ATTACH, SO_ATTACH_BPF), and groups of links made as one (a perf event on
 * every CPU).
 */
import { Attr } from '../attr.js';
import { NotSupportedError } from '../../errors.js';
import { KernelError } from '../error.js';
import { fdById } from '../ids.js';
import { nativeSyscalls } from '../native.js';
import { getPinnedFd, objectKind, pinFd } from '../object-fd.js';
import type { Program } from '../program.js';
import type { Syscalls } from '../syscalls.js';
import { Command } from '../types.js';
import { LINK_DETACH, LINK_UPDATE, linkTypeName } from './attr.js';
import { linkInfo, type LinkInfo } from './link-info.js';
import { forgottenLinks, Resources } from './resources.js';

/**
 * An attachment. Owns what keeps it in place: `close()` (or `using`) detaches the program and
 * releases it. A link dropped without `close()` is released when garbage-collected (its fds
 * closed), but when that happens is up to the collector: close links.
 *
 * `info`, `pin`, `update` and `detach` are the kernel's bpf_link operations; attachments that
 * are not bpf_links throw `NotSupportedError` from them.
 */
export abstract class Link implements Disposable {
  /** What kind of attachment this is (`'tracepoint'`, `'xdp'`, `'cgroup'`, …). */
  readonly kind: string;
  /** Where it is attached, for messages: `xdp on ifindex 3`. */
  readonly description: string;
  readonly #resources: Resources;
  readonly #syscalls: Syscalls;
  #closed = false;

  protected constructor(kind: string, description: string, resources: Resources, syscalls: Syscalls) {
    this.kind = kind;
    this.description = description;
    this.#resources = resources;
    this.#syscalls = syscalls;
    forgottenLinks.register(this, resources, this);
  }

  /** True once closed. */
  get closed(): boolean {
    return this.#closed;
  }

  /** The syscalls the link was made with. */
  get syscalls(): Syscalls {
    return this.#syscalls;
  }

  /** Throws when the link is closed; `what` names the operation. */
  protected checkOpen(what: string): void {
    if (this.#closed) throw new Error(`${what} ${this.description}: the link is closed`);
  }

  /** Detaches and releases everything; idempotent. Throws the first failure after releasing the rest. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    forgottenLinks.unregister(this);
    this.#resources.release();
  }

  [Symbol.dispose](): void {
    this.close();
  }

  /** The kernel's description of the link (BPF_OBJ_GET_INFO_BY_FD). */
  info(): LinkInfo {
    throw new NotSupportedError(`info of ${this.description}: not a bpf_link`);
  }

  /** Pins the link at `path` in a bpffs mount: it stays attached after this process closes it. */
  pin(path: string): void {
    throw new NotSupportedError(`pin ${this.description} at '${path}': not a bpf_link`);
  }

  /** Puts `program` in place of the attached one, atomically (BPF_LINK_UPDATE). */
  update(program: Program): void {
    throw new NotSupportedError(`update ${this.description} to program '${program.name}': not a bpf_link`);
  }

  /**
   * Detaches the program while keeping the link object (BPF_LINK_DETACH): the link stays
   * open but defunct until closed.
   */
  detach(): void {
    throw new NotSupportedError(`detach ${this.description}: not a bpf_link`);
  }
}

/** A kernel bpf_link: an fd that keeps a program attached until its last reference goes. */
export class BpfLink extends Link {
  readonly #fd: number;

  /**
   * @param fd the bpf_link fd; the link owns it (it is the first resource released)
   * @param resources what else the link holds (a perf event fd, a tracefs probe), released after the fd
   */
  constructor(fd: number, kind: string, description: string, options: { syscalls?: Syscalls; resources?: Resources } = {}) {
    const syscalls = options.syscalls ?? nativeSyscalls();
    const resources = (options.resources ?? new Resources(syscalls)).fdFirst(fd, `${description} link`);
    super(kind, description, resources, syscalls);
    this.#fd = fd;
  }

  /**
   * Wraps a bpf_link fd from elsewhere (BPF_OBJ_GET, BPF_LINK_GET_FD_BY_ID); the link owns it.
   * Kind and description come from the kernel's info.
   */
  static fromFd(fd: number, options: { syscalls?: Syscalls } = {}): BpfLink {
    const syscalls = options.syscalls ?? nativeSyscalls();
    const info = linkInfo(fd, { syscalls });
    const kind = info.detail.kind;
    return new BpfLink(fd, kind, `${linkTypeName(info.type)} link id ${info.id}`, { syscalls });
  }

  /** The bpf_link fd; throws once closed. */
  get fd(): number {
    this.checkOpen('fd of');
    return this.#fd;
  }

  override info(): LinkInfo {
    this.checkOpen('info of');
    return linkInfo(this.#fd, { syscalls: this.syscalls });
  }

  override pin(path: string): void {
    this.checkOpen('pin');
    pinFd(this.syscalls, this.#fd, path, this.description);
  }

  override update(program: Program): void {
    this.checkOpen('update');
    const attr = new Attr(LINK_UPDATE.SIZE).u32(LINK_UPDATE.link_fd, this.#fd).u32(LINK_UPDATE.new_prog_fd, program.fd);
    const ret = this.syscalls.withMemory(() => this.syscalls.bpf(Command.LINK_UPDATE, attr.bytes));
    if (ret < 0) throw new KernelError(`update ${this.description} to program '${program.name}'`, -ret);
  }

  override detach(): void {
    this.checkOpen('detach');
    const attr = new Attr(LINK_DETACH.SIZE).u32(LINK_DETACH.link_fd, this.#fd);
    const ret = this.syscalls.withMemory(() => this.syscalls.bpf(Command.LINK_DETACH, attr.bytes));
    if (ret < 0) throw new KernelError(`detach ${this.description}`, -ret);
  }
}

/**
 * An attachment that is not a bpf_link: released by the calls and fds given (PROG_DETACH,
 * SO_DETACH_BPF, closing a perf event). `fd` is the fd that represents it, if any.
 */
export class RawLink extends Link {
  readonly #fd: number;

  constructor(kind: string, description: string, resources: Resources, options: { fd?: number; syscalls?: Syscalls } = {}) {
    super(kind, description, resources, options.syscalls ?? nativeSyscalls());
    this.#fd = options.fd ?? -1;
  }

  /** The fd that represents the attachment (a perf event, a socket), or -1. */
  get fd(): number {
    this.checkOpen('fd of');
    return this.#fd;
  }
}

/**
 * Several links made and closed as one (one perf event per CPU, a probe on several
 * processes). `links` are the parts; closing the group closes them all.
 */
export class LinkGroup extends Link {
  readonly links: readonly Link[];

  constructor(kind: string, description: string, links: readonly Link[], options: { syscalls?: Syscalls } = {}) {
    const syscalls = options.syscalls ?? nativeSyscalls();
    // Each part has its own safety net; the group's resources only close the parts.
    const resources = new Resources(syscalls);
    for (const link of links) resources.call(`close ${link.description}`, () => link.close());
    super(kind, description, resources, syscalls);
    this.links = links;
  }
}

/** Opens the link pinned at `path` (BPF_OBJ_GET); throws if the pin is not a link. */
export function openPinnedLink(path: string, options: { syscalls?: Syscalls } = {}): BpfLink {
  const syscalls = options.syscalls ?? nativeSyscalls();
  const fd = getPinnedFd(syscalls, path);
  try {
    const kind = objectKind(fd);
    if (kind !== 'link' && kind !== 'unknown') throw new TypeError(`open pinned link '${path}': a ${kind}, not a link`);
    return BpfLink.fromFd(fd, { syscalls });
  } catch (err) {
    syscalls.close(fd);
    throw err;
  }
}

/** The link with `id` (BPF_LINK_GET_FD_BY_ID), as a handle owning a new fd. */
export function getLinkById(id: number, options: { syscalls?: Syscalls } = {}): BpfLink {
  const syscalls = options.syscalls ?? nativeSyscalls();
  const fd = fdById('link', id, { syscalls });
  try {
    return BpfLink.fromFd(fd, { syscalls });
  } catch (err) {
    syscalls.close(fd);
    throw err;
  }
}
