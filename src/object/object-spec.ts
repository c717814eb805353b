/**
 * `ObjectSpec`: the parsed object, with lookups by name and the one mutation a spec allows
 * before load — setting the initial values of global variables (`.rodata` constants above
 * all), encoded by their BTF types.
 */
import type { Btf } from '../btf/btf.js';
import { codecFor } from '../btf/codec.js';
import { EbpfError } from '../errors.js';
import type {
  ExternSpec, MapSpec, ObjectSpecData, ProgramSpec, VariableSpec,
} from './spec.js';

/** A parsed eBPF object: programs, maps, variables and externs (see `loadObjectSpec`). */
export class ObjectSpec implements ObjectSpecData {
  readonly programs: readonly ProgramSpec[];
  readonly maps: readonly MapSpec[];
  readonly variables: readonly VariableSpec[];
  readonly externs: readonly ExternSpec[];
  readonly btf: Btf | undefined;
  readonly license: string;
  readonly kernelVersion: number;
  readonly bigEndian: boolean;

  constructor(data: ObjectSpecData) {
    this.programs = data.programs;
    this.maps = data.maps;
    this.variables = data.variables;
    this.externs = data.externs;
    this.btf = data.btf;
    this.license = data.license;
    this.kernelVersion = data.kernelVersion;
    this.bigEndian = data.bigEndian;
  }

  /** The program named `name` (its entry function's name). */
  program(name: string): ProgramSpec | undefined {
    return this.programs.find((p) => p.name === name);
  }

  /** The map named `name` (`.rodata`, `.data.custom` for global data). */
  map(name: string): MapSpec | undefined {
    return this.maps.find((m) => m.name === name);
  }

  /**
   * The global variable named `name`; with `section`, the one in that section (two static
   * variables of different files may share a name after linking).
   */
  variable(name: string, section?: string): VariableSpec | undefined {
    return this.variables.find((v) => v.name === name && (section === undefined || v.section === section));
  }

  /**
   * The current initial value of a global variable, decoded by its BTF type (see the value
   * codec of src/btf/codec.ts); the raw bytes when the object has no BTF.
   */
  getVariable(name: string): unknown {
    const { variable, map } = this.locate(name);
    const bytes = map.data!.subarray(variable.offset, variable.offset + variable.size);
    if (this.btf === undefined || variable.typeId === 0) return bytes.slice();
    try {
      return codecFor(this.btf, variable.typeId, this.codecOptions()).decode(bytes);
    } catch (err) {
      throw EbpfError.wrap(`read variable '${name}'`, err);
    }
  }

  /**
   * Sets the initial value of a global variable of `.data`, `.rodata` or `.bss` (or a custom
   * section of those kinds): `value` is encoded by the variable's BTF type (numbers, bigints,
   * booleans, enumerator names, strings for char arrays, arrays, objects for structs), or given
   * as a Uint8Array of exactly the variable's size.
   *
   * @example
   * spec.setVariable('packets', 0n);
   */
  setVariable(name: string, value: unknown): void {
    const { variable, map } = this.locate(name);
    const target = map.data!;
    if (value instanceof Uint8Array) {
      if (value.length !== variable.size) {
        throw new EbpfError(`set variable '${name}': ${value.length} bytes given, the variable has ${variable.size}`);
      }
      target.set(value, variable.offset);
      return;
    }
    if (this.btf === undefined || variable.typeId === 0) {
      throw new EbpfError(`set variable '${name}': the object has no BTF type for it; give its bytes as a Uint8Array`);
    }
    try {
      const codec = codecFor(this.btf, variable.typeId, this.codecOptions());
      if (codec.size !== variable.size) {
        throw new EbpfError(`type is ${codec.size} bytes but the variable has ${variable.size}`);
      }
      codec.encodeInto(value, target, variable.offset);
    } catch (err) {
      throw EbpfError.wrap(`set variable '${name}'`, err);
    }
  }

  /**
   * Sets a `const volatile` variable of `.rodata` (or `.rodata.*`) before load: the
   * program's read-only configuration, which the verifier then sees as a constant.
   *
   * @example
   * const spec = loadObjectSpec(bytes);
   * spec.setConstant('target_pid', 1234);
   */
  setConstant(name: string, value: unknown): void {
    const { variable } = this.locate(name);
    if (!variable.constant) {
      throw new EbpfError(`set constant '${name}': it is in '${variable.section}', not a read-only .rodata section (use setVariable)`);
    }
    this.setVariable(name, value);
  }

  private locate(name: string): { variable: VariableSpec; map: MapSpec } {
    const variable = this.variable(name);
    if (variable === undefined) {
      const known = this.variables.map((v) => v.name).join(', ') || 'none';
      throw new EbpfError(`no global variable '${name}' (variables: ${known})`);
    }
    const map = this.map(variable.section);
    if (map?.data === undefined) throw new EbpfError(`variable '${name}': no data map for section '${variable.section}'`);
    return { variable, map };
  }

  private codecOptions(): { endianness: 'little' | 'big' } {
    return { endianness: this.bigEndian ? 'big' : 'little' };
  }
}
