/**
 * TC programs through tcx (`tc/ingress`, `tcx/egress`, BPF_PROG_TYPE_SCHED_CLS, 6.6+): a
 * bpf_link on an interface's ingress or egress hook, in a list the kernel orders by anchors
 * (before/after another program or link) and guards with a revision number. Programs return
 * `TCX_NEXT` (-1), `TCX_PASS` (0), `TCX_DROP` (2) or `TCX_REDIRECT` (7). On older kernels the
 * same program goes in as a legacy clsact filter (`tc.ts`).
 */
import { KernelError } from '../error.js';
import type { Program } from '../program.js';
import { AttachType } from '../types.js';
import { AttachFlag, LINK_CREATE } from './attr.js';
import { isUnsupportedAttach, tryLinkCreate } from './create.js';
import { BpfLink, type Link } from './link.js';
import { inTargetNetns, resolveIfindex, type InterfaceTarget } from './netns.js';
import { attachTc } from './tc.js';

/** tcx verdicts (`enum tcx_action_base`). */
export const TcxAction = { NEXT: -1, PASS: 0, DROP: 2, REDIRECT: 7 } as const;

/** Where in the hook's list the program goes, relative to another one. */
export type TcxAnchor =
  | { before: Program | BpfLink | 'first' }
  | { after: Program | BpfLink | 'last' };

/** Options of {@link attachTcx}. */
export interface TcxOptions extends InterfaceTarget {
  direction: 'ingress' | 'egress';
  /** Position in the list (default: last). */
  anchor?: TcxAnchor;
  /** Fail with ESTALE unless the hook's list is at this revision. */
  expectedRevision?: bigint;
  /**
   * `'tcx'`: a tcx link only; `'netlink'`: a legacy clsact `bpf` filter ({@link attachTc});
   * `'auto'` (default): tcx, or the legacy filter on kernels without tcx (before 6.6).
   */
  via?: 'auto' | 'tcx' | 'netlink';
}

/** The anchor as LINK_CREATE flags and relative fd. */
function anchorFields(anchor: TcxAnchor | undefined): { flags: number; relative: number } {
  if (anchor === undefined) return { flags: 0, relative: 0 };
  const [flag, other] = 'before' in anchor ? [AttachFlag.BEFORE, anchor.before] : [AttachFlag.AFTER, anchor.after];
  if (other === 'first' || other === 'last') return { flags: flag, relative: 0 };
  if (other instanceof BpfLink) return { flags: flag | AttachFlag.LINK, relative: other.fd };
  return { flags: flag, relative: (other as Program).fd };
}

/**
 * Attaches a SCHED_CLS program to an interface's tcx ingress or egress.
 *
 * @example
 * using link = attachTcx(program, { ifname: 'veth0', netns: 'blue', direction: 'ingress' });
 */
export function attachTcx(program: Program, options: TcxOptions): Link {
  const via = options.via ?? 'auto';
  const legacy = (): Link => attachTc(program, options);
  if (via === 'netlink') return legacy();
  const attachType = options.direction === 'ingress' ? AttachType.TCX_INGRESS : AttachType.TCX_EGRESS;
  const { flags, relative } = anchorFields(options.anchor);
  const made = inTargetNetns(options, () => {
    const ifindex = resolveIfindex(options);
    const description = `tcx ${options.direction} on ${options.ifname ?? `ifindex ${ifindex}`}${options.netns ? ` in ${options.netns}` : ''}`;
    const fd = tryLinkCreate(program.syscalls, {
      programFd: program.fd,
      target: ifindex,
      attachType,
      flags,
      fill: (attr) => attr.u32(LINK_CREATE.relative_fd, relative).u64(LINK_CREATE.expected_revision, options.expectedRevision ?? 0n),
    });
    if (fd >= 0) return new BpfLink(fd, 'tcx', description, { syscalls: program.syscalls });
    // Anchors and revisions have no legacy equivalent: only a plain attach falls back.
    const plain = options.anchor === undefined && options.expectedRevision === undefined;
    if (via === 'tcx' || !plain || !isUnsupportedAttach(-fd)) throw new KernelError(`attach program '${program.name}' as ${description}`, -fd);
    return undefined;
  });
  return made ?? legacy();
}
