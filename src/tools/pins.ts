/**
 * The pin directories of the network tools: the attaching invocation pins its control maps
 * there (`/sys/fs/bpf/ebpf-<tool>/<iface>[@<netns>]/<map>`), later invocations open them to
 * change rules while it runs, and it removes them when it detaches.
 */
import { mkdirSync, readFileSync, readdirSync, rmdirSync, rmSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { EbpfError } from '../errors.js';

/** The bpffs mounts of this mount namespace, longest first. */
function bpffsMounts(): string[] {
  let text = '';
  try {
    text = readFileSync('/proc/self/mounts', 'utf8');
  } catch {
    return [];
  }
  return text.split('\n').map((l) => l.split(' ')).filter((f) => f[2] === 'bpf').map((f) => f[1]!).sort((a, b) => b.length - a.length);
}

/** Whether `path` is inside a bpffs mount (where BPF_OBJ_PIN works). */
export function onBpffs(path: string): boolean {
  const full = resolve(path);
  return bpffsMounts().some((m) => full === m || full.startsWith(m.endsWith('/') ? m : `${m}/`));
}

/** The default pin directory of `tool` for an interface (and namespace). */
export function defaultPinDir(tool: string, iface: string, netns?: string): string {
  for (const [what, name] of [['interface', iface], ['network namespace', netns]] as const) {
    if (name !== undefined && (!/^[A-Za-z0-9_.:-]+$/.test(name) || name === '.' || name === '..')) throw new TypeError(`${what} name '${name}'`);
  }
  return join('/sys/fs/bpf', `ebpf-${tool}`, netns === undefined ? iface : `${iface}@${netns}`);
}

/** Creates `dir` (and its parents) on bpffs; throws when it is not on one. */
export function preparePinDir(dir: string): void {
  if (!onBpffs(dir)) throw new EbpfError(`pin directory ${dir} is not on a bpffs mount (mount -t bpf bpf /sys/fs/bpf)`);
  mkdirSync(dir, { recursive: true });
}

/**
 * Removes the pins `names` of `dir`. When `tool` is given (the directory is the tool's
 * default, made by it), also `dir` if that left it empty, and the tool's folder
 * (`ebpf-<tool>`) if empty too; a directory the user named is left in place.
 */
export function removePins(dir: string, names: readonly string[], tool?: string): void {
  for (const name of names) rmSync(join(dir, name), { force: true });
  if (tool === undefined) return;
  const removeIfEmpty = (d: string): boolean => {
    try {
      if (readdirSync(d).length > 0) return false;
      rmdirSync(d);
      return true;
    } catch {
      return false;
    }
  };
  if (removeIfEmpty(dir) && tool !== undefined && dirname(dir) === join('/sys/fs/bpf', `ebpf-${tool}`)) removeIfEmpty(dirname(dir));
}
