/**
 * The spec `loadObject` loads: parsed from bytes if need be, program types overridden, global
 * data copied (constants set for one load must not change the caller's spec) and set, the
 * programs to load chosen.
 */
import { EbpfError } from '../../errors.js';
import { loadObjectSpec, ObjectSpec, type MapSpec, type ProgramSpec } from '../../object/index.js';
import { HOST_LITTLE_ENDIAN } from '../attr.js';
import type { KernelObjectOptions } from './kernel-object.js';

/** The spec to load: parsed if need be, program types overridden, global data copied and set. */
export function prepareSpec(source: ObjectSpec | Uint8Array, options: KernelObjectOptions): ObjectSpec {
  const parsed = source instanceof Uint8Array
    ? loadObjectSpec(source, options.programTypes === undefined ? {} : { programTypes: options.programTypes })
    : source;
  if (parsed.bigEndian === HOST_LITTLE_ENDIAN) {
    throw new EbpfError(`the object is ${parsed.bigEndian ? 'big' : 'little'}-endian and this host is not: loading non-native endianness is unsupported`);
  }
  const overrides = source instanceof Uint8Array ? undefined : options.programTypes;
  const programs = overrides === undefined ? parsed.programs : parsed.programs.map((p) => {
    const o = overrides[p.name] ?? overrides[p.sectionName];
    return o === undefined ? p : { ...p, type: o.type, expectedAttachType: o.expectedAttachType ?? 0, attachTarget: o.attachTarget ?? p.attachTarget, sectionFlags: 0 };
  });
  // A private copy of the initial data: constants set here must not change the caller's spec.
  const maps = parsed.maps.map((m): MapSpec => (m.data === undefined ? m : { ...m, data: m.data.slice() }));
  const spec = new ObjectSpec({ ...dataOf(parsed), programs, maps });
  for (const [name, value] of Object.entries(options.constants ?? {})) spec.setConstant(name, value);
  for (const [name, value] of Object.entries(options.variables ?? {})) spec.setVariable(name, value);
  return spec;
}

function dataOf(spec: ObjectSpec): ConstructorParameters<typeof ObjectSpec>[0] {
  return {
    programs: spec.programs, maps: spec.maps, variables: spec.variables, externs: spec.externs, btf: spec.btf,
    license: spec.license, kernelVersion: spec.kernelVersion, bigEndian: spec.bigEndian,
  };
}

export function selectPrograms(spec: ObjectSpec, names: readonly string[] | undefined): ProgramSpec[] {
  if (names === undefined) return spec.programs.filter((p) => p.autoload);
  return names.map((name) => {
    const p = spec.program(name);
    if (p === undefined) throw new EbpfError(`no program '${name}' in the object (programs: ${spec.programs.map((x) => x.name).join(', ') || 'none'})`);
    return p;
  });
}
