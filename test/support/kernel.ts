/**
 * Whether the tests can use the kernel's bpf(): probed once per process by loading and
 * test-running `r0 = 0; exit` as a socket filter. Under EBPF_REQUIRE_KERNEL=1 (CI, run as root)
 * a missing kernel is a failure, not a skip.
 */
import { loadProgram, ProgramType, testRun } from '../../src/kernel/index.js';

let probed: string | false | undefined;

function probe(): string | false {
  if (process.platform !== 'linux') return `bpf() needs Linux (this is ${process.platform})`;
  try {
    // r0 = 0; exit
    const instructions = new Uint8Array([0xb7, 0, 0, 0, 0, 0, 0, 0, 0x95, 0, 0, 0, 0, 0, 0, 0]);
    using program = loadProgram({ type: ProgramType.SOCKET_FILTER, instructions, license: 'GPL', name: 'probe' });
    testRun(program, { data: new Uint8Array(64) });
    return false;
  } catch (err) {
    const uid = process.getuid?.();
    const who = uid === 0 ? 'as root' : `as uid ${uid} (try root)`;
    return `bpf() not usable ${who}: ${err instanceof Error ? err.message : String(err)}`;
  }
}

/**
 * A skip reason when bpf() cannot load and run a program here, or false when it can.
 * Throws instead of skipping when `EBPF_REQUIRE_KERNEL=1`.
 */
export function kernelSkip(): string | false {
  probed ??= probe();
  if (probed !== false && process.env.EBPF_REQUIRE_KERNEL === '1') {
    throw new Error(`EBPF_REQUIRE_KERNEL=1 but ${probed}`);
  }
  return probed;
}
