/**
 * Loading one program of an object (libbpf: bpf_object_load_prog, libbpf_prepare_prog_load):
 * its name cut to the kernel's 15 characters, the object BTF with func_info and line_info, the
 * BTF attach target of tracing, LSM and iterator programs, and the verifier log — always on
 * failure, on success when asked for. `.rodata` maps are bound to it (BPF_PROG_BIND_MAP) so
 * they live as long as the program, as libbpf does.
 */
import { EbpfError } from '../../errors.js';
import { SecFlag } from '../../object/section-defs.js';
import type { ProgramSpec } from '../../object/spec.js';
import { Attr, PROG_BIND_MAP } from '../attr.js';
import { KernelError } from '../error.js';
import { attachBtfId, BtfTargetNotFoundError } from '../link/btf-target.js';
import { loadProgram, type Program, verifierMessage } from '../program.js';
import type { Syscalls } from '../syscalls.js';
import { Command, ProgramType, programTypeName } from '../types.js';
import { moduleBtfs, openModuleBtfFd, vmlinuxBtf } from './kernel-types.js';

/** What loading a program needs from its object. */
export interface ProgramContext {
  readonly syscalls: Syscalls;
  /** The loaded object BTF and where line_info strings are in it. */
  readonly btf: { readonly fd: number; stringOffset(text: string): number } | undefined;
  readonly fdArray: readonly number[];
  readonly logLevel: number;
  readonly logSize: number | undefined;
  /** Maps to bind to the program (the object's `.rodata` maps). */
  readonly bindMaps: readonly number[];
  /** Takes ownership of an fd needed only while loading (a module's BTF). */
  readonly ownFd: (fd: number) => void;
}

/** The kernel keeps 15 characters of a program's name (BPF_OBJ_NAME_LEN). */
export function kernelProgramName(name: string): string {
  return name.slice(0, 15).replace(/[^A-Za-z0-9_.]/g, '_');
}

/**
 * BPF_PROG_LOAD of `program` as `instructions`. Throws {@link KernelError} naming the program
 * with the verifier's reason and log: `load program 'x' (BPF_PROG_TYPE_XDP): EACCES (…): R0 !read_ok`.
 */
export function loadObjectProgram(program: ProgramSpec, instructions: Uint8Array, ctx: ProgramContext): Program {
  const attach = attachTarget(program, ctx);
  const btf = ctx.btf;
  let loaded: Program;
  try {
    loaded = loadProgram({
      type: program.type,
      instructions,
      license: program.license,
      name: kernelProgramName(program.name),
      expectedAttachType: program.expectedAttachType,
      flags: program.programFlags,
      kernelVersion: program.kernelVersion,
      logLevel: ctx.logLevel,
      ...(ctx.logSize === undefined ? {} : { logSize: ctx.logSize }),
      ...attach,
      ...(btf === undefined ? {} : {
        btf: btf.fd,
        funcInfo: program.funcInfo.map((f) => ({ insnOff: f.slot, typeId: f.typeId })),
        lineInfo: program.lineInfo.map((l) => ({
          insnOff: l.slot, fileNameOff: btf.stringOffset(l.fileName), lineOff: btf.stringOffset(l.lineText), line: l.line, column: l.column,
        })),
      }),
      ...(ctx.fdArray.length > 0 ? { fdArray: ctx.fdArray } : {}),
      syscalls: ctx.syscalls,
    });
  } catch (err) {
    if (err instanceof KernelError) {
      // Name the program in full (the kernel's name is cut to 15 characters).
      const detail = err.log === undefined ? undefined : verifierMessage(err.log);
      throw new KernelError(`load program '${program.name}' (${programTypeName(program.type)})`, err.errno, {
        ...(err.log === undefined ? {} : { log: err.log }), ...(detail === undefined ? {} : { detail }), cause: err,
      });
    }
    throw err;
  }
  for (const mapFd of ctx.bindMaps) bindMap(ctx.syscalls, loaded.fd, mapFd);
  return loaded;
}

/**
 * libbpf: libbpf_prepare_prog_load / libbpf_find_attach_btf_id — for a section with a BTF
 * attach point (`fentry/do_unlinkat`, `tp_btf/sched_switch`, `lsm/file_open`, `iter/task`), the
 * kernel BTF id of the target, in vmlinux or a module (`fentry/module:function`).
 */
function attachTarget(program: ProgramSpec, ctx: ProgramContext): { attachBtfId?: number; attachBtfObjFd?: number } {
  if ((program.sectionFlags & SecFlag.ATTACH_BTF) === 0) return {};
  const fail = (why: string): never => { throw new EbpfError(`load program '${program.name}': ${why}`); };
  const target = program.attachTarget;
  if (target === undefined || target === '') {
    return fail('no BTF-based attach target is specified (the section names none)');
  }
  if (program.type === ProgramType.EXT) return fail(`attach program FD is not set (freplace of '${target}' needs the program it replaces)`);
  const colon = target.indexOf(':');
  const module = colon < 0 ? undefined : target.slice(0, colon);
  const name = colon < 0 ? target : target.slice(colon + 1);
  if (module === undefined || module === 'vmlinux') {
    const id = findTarget(program.expectedAttachType, name, vmlinuxBtf(), 0);
    if (id !== undefined) return { attachBtfId: id };
  }
  for (const mod of moduleBtfs()) {
    if (module !== undefined && mod.name !== module) continue;
    const id = findTarget(program.expectedAttachType, name, mod.btf, mod.btf.firstId);
    if (id === undefined) continue;
    const fd = openModuleBtfFd(mod.name, ctx.syscalls);
    ctx.ownFd(fd);
    return { attachBtfId: id, attachBtfObjFd: fd };
  }
  return fail(`failed to find kernel BTF type ID of '${target}'`);
}

function findTarget(attachType: number, name: string, btf: Parameters<typeof attachBtfId>[2], firstId: number): number | undefined {
  try {
    const id = attachBtfId(attachType, name, btf);
    return id >= firstId ? id : undefined;
  } catch (err) {
    if (err instanceof BtfTargetNotFoundError) return undefined;
    throw err;
  }
}

/** BPF_PROG_BIND_MAP (5.10+); failures are ignored, as libbpf ignores them. */
function bindMap(syscalls: Syscalls, progFd: number, mapFd: number): void {
  const attr = new Attr(PROG_BIND_MAP.SIZE).u32(PROG_BIND_MAP.prog_fd, progFd).u32(PROG_BIND_MAP.map_fd, mapFd);
  syscalls.withMemory(() => syscalls.bpf(Command.PROG_BIND_MAP, attr.bytes));
}
