/**
 * Where the shared test data lives: `../shared` beside the repository (or $EBPF_SHARED).
 * Tests that need it skip with a message when it is absent, as on a user's clone.
 */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { join, resolve } from 'node:path';

/** The repository root (tests run from dist/test/…). */
export const repoRoot = resolve(fileURLToPath(new URL('../../..', import.meta.url)));

/** The shared folder, or undefined when absent. */
export const sharedDir: string | undefined = (() => {
  const dir = process.env.EBPF_SHARED ?? join(repoRoot, '..', 'shared');
  return existsSync(dir) ? dir : undefined;
})();

/** Path under ../shared, or a skip reason when it is missing. */
export function sharedPath(...parts: string[]): { path: string; skip: false } | { path: undefined; skip: string } {
  if (sharedDir === undefined) return { path: undefined, skip: 'shared test data not found (../shared or $EBPF_SHARED)' };
  const path = join(sharedDir, ...parts);
  if (!existsSync(path)) return { path: undefined, skip: `${path} not found` };
  return { path, skip: false };
}
