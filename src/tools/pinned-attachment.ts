/**
 * What the network tools share: load the tool's object with its control maps pinned in a pin
 * directory (reusing maps pinned there before), attach, and on failure undo exactly what this
 * load made; later, detach and remove the pins unless asked to keep them.
 */
import type { Link } from '../kernel/link/link.js';
import type { KernelObject } from '../kernel/object/kernel-object.js';
import { loadToolObject, type ToolObjectName } from './objects.js';
import { preparePinDir, removePins } from './pins.js';

/** A loaded and attached tool object with its pin directory. */
export interface PinnedParts {
  readonly pinDir: string;
  /** The tool's name when the pin directory is its default one (removed when empty), else undefined. */
  readonly owner: string | undefined;
  /** Names of the maps pinned in `pinDir`. */
  readonly pinned: readonly string[];
  readonly object: KernelObject;
  readonly link: Link;
}

/**
 * Loads bpf/tools/`objectName`.o with maps pinned in `pinDir` and attaches it with `attach`
 * (which may also fill maps first). On failure, removes only the pins this load made: maps
 * reused from an earlier run stay as they were.
 */
export function attachPinned(
  objectName: ToolObjectName, pinDir: string, owner: string | undefined, pinned: readonly string[],
  attach: (object: KernelObject) => Link,
): PinnedParts {
  preparePinDir(pinDir);
  let object: KernelObject | undefined;
  try {
    object = loadToolObject(objectName, { pinPath: pinDir });
    const link = attach(object);
    return { pinDir, owner, pinned, object, link };
  } catch (err) {
    const made = pinned.filter((name) => object?.maps[name]?.reused === false);
    object?.dispose();
    removePins(pinDir, made, owner);
    throw err;
  }
}

/** An attached tool. `close()` detaches it and removes its pins (unless `keep`). */
export class PinnedAttachment implements Disposable {
  readonly pinDir: string;
  readonly object: KernelObject;
  readonly link: Link;
  readonly #owner: string | undefined;
  readonly #pinned: readonly string[];
  #closed = false;

  protected constructor(parts: PinnedParts) {
    this.pinDir = parts.pinDir;
    this.object = parts.object;
    this.link = parts.link;
    this.#owner = parts.owner;
    this.#pinned = parts.pinned;
  }

  /** Detaches, releases the program, and removes the pins unless `keep`. Idempotent. */
  close(options: { keep?: boolean } = {}): void {
    if (this.#closed) return;
    this.#closed = true;
    try {
      this.link.close();
    } finally {
      this.object.dispose();
      if (!options.keep) removePins(this.pinDir, this.#pinned, this.#owner);
    }
  }

  [Symbol.dispose](): void {
    this.close();
  }
}
