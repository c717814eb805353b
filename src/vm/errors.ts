/** Faults raised while a program runs in the VM. Each names the instruction (slot index). */
import { EbpfError } from '../errors.js';

/** Base class of run-time faults: the program stopped at instruction `index`. */
export class VmError extends EbpfError {
  override name = 'VmError';
  /** Slot index of the instruction that faulted. */
  readonly index: number;
  constructor(message: string, index: number, options?: { cause?: unknown }) {
    super(`insn ${index}: ${message}`, options);
    this.index = index;
  }
}

/** A load or store that is not wholly inside one region the program may access. */
export class MemoryFault extends VmError {
  override name = 'MemoryFault';
  readonly address: number;
  readonly size: number;
  readonly access: 'read' | 'write';
  constructor(index: number, address: number, size: number, access: 'read' | 'write', detail: string) {
    super(`invalid ${access} of ${size} byte${size === 1 ? '' : 's'} at 0x${address.toString(16)}: ${detail}`, index);
    this.address = address;
    this.size = size;
    this.access = access;
  }
}

/** The program ran more instructions than its budget allows. */
export class BudgetExceeded extends VmError {
  override name = 'BudgetExceeded';
  constructor(index: number, budget: number) {
    super(`instruction budget of ${budget} exhausted`, index);
  }
}

/** A call to a helper id the VM has no implementation for. */
export class UnknownHelper extends VmError {
  override name = 'UnknownHelper';
  readonly helper: number;
  constructor(index: number, helper: number) {
    super(`call to unknown helper ${helper}`, index);
    this.helper = helper;
  }
}

/** bpf-to-bpf calls nested deeper than the kernel's 8 frames. */
export class CallDepthExceeded extends VmError {
  override name = 'CallDepthExceeded';
  constructor(index: number, frames: number) {
    super(`the call stack of ${frames} frames is too deep`, index);
  }
}
