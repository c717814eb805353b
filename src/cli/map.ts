/**
 * `ebpf map show|dump|lookup|update|delete`: the kernel's maps, in bpftool's grammar and with its
 * `-j` shapes. A map is `id ID`, `pinned PATH` or `name NAME` (or just an id or a path). Keys and
 * values are hex bytes as bpftool takes them (`key 0x01 0x00 0x00 0x00`, `key hex 01 00 00 00`)
 * or, for maps with BTF, one JSON argument (`key '{"saddr":1}'`, `value json 5`); dumps of maps
 * with BTF carry the decoded values (bpftool's `formatted`), from the BTF the kernel holds.
 */
import { readFileSync } from 'node:fs';
import { EbpfError } from '../errors.js';
import { mapTypeShortName, programTypeShortName } from '../object/uapi-types.js';
import { Errno } from '../kernel/errno.js';
import { KernelError } from '../kernel/error.js';
import { mapIds } from '../kernel/ids.js';
import type { MapInfo } from '../kernel/info.js';
import { possibleCpuCount, splitPerCpu, joinPerCpu } from '../kernel/map-percpu.js';
import { UpdateFlag } from '../kernel/map-types.js';
import type { ObjectMap } from '../kernel/object/object-map.js';
import { objectMapById, openObjectMap } from '../kernel/object/open.js';
import { type Command, UsageError } from './command.js';
import { hexArray, hexBytes, parseJsonValue, toJson } from './json-value.js';

const USAGE = `Usage: ebpf map show [MAP] [-j [-p]]
       ebpf map dump MAP [-j [-p]]
       ebpf map lookup MAP key DATA [-j]
       ebpf map update MAP key DATA value DATA [any|noexist|exist]
       ebpf map delete MAP key DATA

The kernel's maps, as bpftool shows them.

  MAP    id ID | pinned PATH | name NAME   (or just ID, or a path)
  DATA   bytes: 0x01 0x00 0x00 0x00, or 'hex 01 00 00 00' (bpftool's forms);
         for maps with BTF also one JSON value: key '{"saddr":1,"proto":6}', value 5,
         or 'json VALUE'. A per-CPU value in bytes is written to every CPU; in JSON it
         may be an array with one value per possible CPU.
  -j     JSON output (bpftool -j); dumps of maps with BTF include "formatted"
  -p     indented JSON`;

/** Global flags of the kernel commands: `-j`/`--json`, `-p`/`--pretty`; returns the rest. */
export function takeOutputFlags(args: readonly string[]): { rest: string[]; json: boolean; pretty: boolean } {
  const rest: string[] = [];
  let json = false;
  let pretty = false;
  for (const a of args) {
    if (a === '-j' || a === '--json') json = true;
    else if (a === '-p' || a === '--pretty') { json = true; pretty = true; } else rest.push(a);
  }
  return { rest, json, pretty };
}

export const mapCommand: Command = {
  name: 'map',
  summary: "show, dump and edit the kernel's maps (bpftool map)",
  usage: USAGE,
  async run(args, io) {
    const { rest, json, pretty } = takeOutputFlags(args);
    const [sub, ...more] = rest;
    const out = (value: unknown): void => io.out(`${toJson(value, pretty ? 2 : undefined)}\n`);
    switch (sub) {
      case 'show':
      case 'list': {
        const reports = more.length === 0 ? allMaps() : [withMap(selectMap(more).map, (m) => mapReport(m))];
        if (json) out(more.length === 0 ? reports : reports[0]);
        else io.out(reports.map(formatMapReport).join(''));
        return 0;
      }
      case 'dump': {
        const { map } = selectMap(more);
        return withMap(map, (m) => {
          const entries = dumpEntries(m);
          if (json) out(entries.map((e) => e.json));
          else io.out(`${entries.map((e) => e.text).join('')}Found ${entries.length} element${entries.length === 1 ? '' : 's'}\n`);
          return 0;
        });
      }
      case 'lookup': {
        const { map, rest: after } = selectMap(more, true);
        return withMap(map, (m) => {
          const { key } = parseElement(m, after, { value: false });
          const bytes = m.map.lookup(key);
          if (bytes === undefined) throw new KernelError('lookup', Errno.ENOENT, { detail: 'key not found' });
          const entry = entryReport(m, key, bytes);
          if (json) out(entry.json);
          else io.out(entry.text);
          return 0;
        });
      }
      case 'update': {
        const { map, rest: after } = selectMap(more, true);
        return withMap(map, (m) => {
          const { key, value, flags } = parseElement(m, after, { value: true });
          m.map.update(key, value!, flags);
          if (json) out(null);
          return 0;
        });
      }
      case 'delete': {
        const { map, rest: after } = selectMap(more, true);
        return withMap(map, (m) => {
          const { key } = parseElement(m, after, { value: false });
          if (key === undefined) throw new UsageError('delete needs a key');
          if (!m.map.delete(key)) throw new KernelError('delete', Errno.ENOENT, { detail: 'key not found' });
          if (json) out(null);
          return 0;
        });
      }
      case undefined:
        throw new UsageError('expected a subcommand (show, dump, lookup, update, delete)');
      default:
        throw new UsageError(`unknown subcommand '${sub}'`);
    }
  },
};

/** Runs `use` with the map open, closing it after. */
function withMap<T>(open: () => ObjectMap, use: (m: ObjectMap) => T): T {
  const m = open();
  try {
    return use(m);
  } finally {
    m.close();
  }
}

/** `id ID` | `pinned PATH` | `name NAME` | ID | PATH at the start of `args`. */
function selectMap(args: readonly string[], more = false): { map: () => ObjectMap; rest: string[] } {
  const [first, second, ...tail] = args;
  if (first === undefined) throw new UsageError('expected a map: id ID, pinned PATH or name NAME');
  let map: () => ObjectMap;
  let rest: string[];
  if (first === 'id' || first === 'pinned' || first === 'name') {
    if (second === undefined) throw new UsageError(`'${first}' needs a value`);
    rest = tail;
    if (first === 'id') map = () => objectMapById(parseId(second));
    else if (first === 'pinned') map = () => openObjectMap(second);
    else map = () => mapByName(second);
  } else if (/^\d+$/.test(first)) {
    map = () => objectMapById(parseId(first));
    rest = second === undefined ? tail : [second, ...tail];
  } else if (first.startsWith('/') || first.startsWith('.')) {
    map = () => openObjectMap(first);
    rest = second === undefined ? tail : [second, ...tail];
  } else {
    throw new UsageError(`'${first}' is not a map (id ID, pinned PATH or name NAME)`);
  }
  if (!more && rest.length > 0) throw new UsageError(`unexpected '${rest[0]}'`);
  return { map, rest };
}

function parseId(text: string): number {
  if (!/^\d+$/.test(text)) throw new UsageError(`'${text}' is not an id`);
  return Number(text);
}

/** The first map named `name` (the kernel's 15-character name). */
function mapByName(name: string): ObjectMap {
  for (const id of mapIds()) {
    let m: ObjectMap;
    try {
      m = objectMapById(id);
    } catch {
      continue;
    }
    if (m.map.name === name) return m;
    m.close();
  }
  throw new EbpfError(`no map named '${name}'`);
}

/** `/proc/self/fdinfo` fields bpftool reports that BPF_OBJ_GET_INFO_BY_FD lacks (memlock, frozen). */
export function fdinfo(fd: number): Map<string, string> {
  const out = new Map<string, string>();
  try {
    for (const line of readFileSync(`/proc/self/fdinfo/${fd}`, 'utf8').split('\n')) {
      const colon = line.indexOf(':');
      if (colon > 0) out.set(line.slice(0, colon), line.slice(colon + 1).trim());
    }
  } catch { /* fields stay absent */ }
  return out;
}

/** One map as `bpftool -j map show` prints it. */
export interface MapShowReport {
  id: number;
  type: string;
  name: string;
  flags: number;
  bytes_key: number;
  bytes_value: number;
  max_entries: number;
  bytes_memlock?: number;
  frozen?: number;
  /** Program arrays: the type of the programs it may hold, once one was added. */
  owner_prog_type?: string;
  owner_jited?: boolean;
  btf_id?: number;
}

function mapReport(m: ObjectMap): MapShowReport {
  const info: MapInfo = m.map.info;
  const extra = fdinfo(m.fd);
  const memlock = extra.get('memlock');
  const frozen = extra.get('frozen');
  const ownerType = extra.get('owner_prog_type');
  return {
    id: info.id,
    type: mapTypeShortName(info.type),
    name: info.name,
    flags: info.flags,
    bytes_key: info.keySize,
    bytes_value: info.valueSize,
    max_entries: info.maxEntries,
    ...(memlock === undefined ? {} : { bytes_memlock: Number(memlock) }),
    ...(frozen === undefined ? {} : { frozen: frozen === '1' ? 1 : 0 }),
    ...(ownerType === undefined ? {} : { owner_prog_type: programTypeShortName(Number(ownerType)), owner_jited: extra.get('owner_jited') === '1' }),
    ...(info.btfId ? { btf_id: info.btfId } : {}),
  };
}

function allMaps(): MapShowReport[] {
  const out: MapShowReport[] = [];
  for (const id of mapIds()) {
    let m: ObjectMap;
    try {
      m = objectMapById(id);
    } catch {
      continue; // gone since listed
    }
    try {
      out.push(mapReport(m));
    } finally {
      m.close();
    }
  }
  return out;
}

function formatMapReport(r: MapShowReport): string {
  let text = `${r.id}: ${r.type}  ${r.name ? `name ${r.name}  ` : ''}flags 0x${r.flags.toString(16)}\n`;
  text += `\tkey ${r.bytes_key}B  value ${r.bytes_value}B  max_entries ${r.max_entries}${r.bytes_memlock === undefined ? '' : `  memlock ${r.bytes_memlock}B`}\n`;
  if (r.owner_prog_type !== undefined) text += `\towner_prog_type ${r.owner_prog_type}  owner${r.owner_jited ? '' : ' not'} jited\n`;
  const tail = [r.btf_id ? `btf_id ${r.btf_id}` : '', r.frozen ? 'frozen' : ''].filter((x) => x !== '');
  if (tail.length > 0) text += `\t${tail.join('  ')}\n`;
  return text;
}

/** One element for output: bpftool's JSON entry and a text form. */
interface EntryReport {
  json: Record<string, unknown>;
  text: string;
}

function dumpEntries(m: ObjectMap): EntryReport[] {
  const out: EntryReport[] = [];
  if (m.map.keySize === 0) throw new EbpfError(`map '${m.map.name}' (${mapTypeShortName(m.type)}) has no keys to dump`);
  for (const [key, value] of m.map.entries()) out.push(entryReport(m, key, value));
  return out;
}

function entryReport(m: ObjectMap, key: Uint8Array | undefined, value: Uint8Array): EntryReport {
  const keyBytes = key ?? new Uint8Array(0);
  const json: Record<string, unknown> = { key: hexArray(keyBytes) };
  const formatted: Record<string, unknown> = {};
  const hasBtf = m.btf !== undefined && (m.keyTypeId !== 0 || m.valueTypeId !== 0);
  if (hasBtf && m.keyTypeId !== 0) formatted.key = m.codec.decodeKey(keyBytes);
  let text: string;
  if (m.map.perCpu) {
    const parts = splitPerCpu(value, m.map.valueSize);
    json.values = parts.map((v, cpu) => ({ cpu, value: hexArray(v) }));
    if (hasBtf && m.valueTypeId !== 0) {
      const decoded = m.codec.decodeValue(value) as unknown[];
      formatted.values = decoded.map((v, cpu) => ({ cpu, value: v }));
    }
    text = `key: ${hexBytes(keyBytes)}\n${parts.map((v, cpu) => `\tvalue (CPU ${String(cpu).padStart(2, '0')}): ${hexBytes(v)}\n`).join('')}`;
  } else {
    json.value = hexArray(value);
    if (hasBtf && m.valueTypeId !== 0) formatted.value = m.codec.decodeValue(value);
    text = `key: ${hexBytes(keyBytes)}  value: ${hexBytes(value)}\n`;
  }
  if (Object.keys(formatted).length > 0) {
    json.formatted = formatted;
    text = `${toJson(formatted, 4)}\n`;
  }
  return { json, text };
}

const FLAGS: Readonly<Record<string, number>> = { any: UpdateFlag.ANY, noexist: UpdateFlag.NOEXIST, exist: UpdateFlag.EXIST };

/**
 * `key DATA [value DATA] [FLAG]` for map `m`: DATA is bytes in bpftool's forms or, with BTF,
 * one JSON value (or `json VALUE`) encoded through the map's codec.
 */
function parseElement(m: ObjectMap, args: readonly string[], want: { value: boolean }): { key: Uint8Array | undefined; value: Uint8Array | undefined; flags: number } {
  let i = 0;
  const take = (what: 'key' | 'value'): Uint8Array | undefined => {
    if (args[i] !== what) throw new UsageError(`expected '${what}'`);
    i++;
    const start = i;
    while (i < args.length && args[i] !== 'value' && !(args[i]! in FLAGS)) i++;
    const tokens = args.slice(start, i);
    return encodeData(m, what, tokens);
  };
  const key = m.map.keySize === 0 && args[0] !== 'key' ? undefined : take('key');
  const value = want.value ? take('value') : undefined;
  let flags: number = UpdateFlag.ANY;
  if (i < args.length) {
    const f = args[i]!;
    if (!want.value || !(f in FLAGS)) throw new UsageError(`unexpected '${f}'`);
    flags = FLAGS[f]!;
    i++;
  }
  if (i < args.length) throw new UsageError(`unexpected '${args[i]}'`);
  return { key, value, flags };
}

function encodeData(m: ObjectMap, what: 'key' | 'value', tokens: readonly string[]): Uint8Array {
  if (tokens.length === 0) throw new UsageError(`'${what}' needs data`);
  const size = what === 'key' ? m.map.keySize : m.map.valueSize;
  const isJson = tokens[0] === 'json' || (tokens.length === 1 && /^[[{"]|^-?\d+n?$|^(true|false)$/.test(tokens[0]!) && !/^0x/i.test(tokens[0]!) && size !== 1);
  if (isJson) {
    const text = tokens[0] === 'json' ? tokens.slice(1).join(' ') : tokens[0]!;
    let parsed: unknown;
    try {
      parsed = parseJsonValue(text);
    } catch (err) {
      throw new UsageError(`${what} '${text}' is not JSON: ${(err as Error).message}`);
    }
    try {
      if (what === 'key') return m.codec.encodeKey(parsed);
      if (m.map.perCpu && !Array.isArray(parsed)) return m.codec.encodeValue(Array.from({ length: possibleCpuCount() }, () => parsed));
      return m.codec.encodeValue(parsed);
    } catch (err) {
      throw EbpfError.wrap(`encode ${what} ${text}`, err);
    }
  }
  const bytes = parseBytes(tokens, what);
  if (bytes.length !== size) throw new UsageError(`${what} has ${bytes.length} bytes, the map's ${what} has ${size}`);
  if (what === 'value' && m.map.perCpu) return joinPerCpu(Array.from({ length: possibleCpuCount() }, () => bytes), size);
  return bytes;
}

/** bpftool's parse_bytes: numbers in C notation (0x.., 0.., decimal), or after `hex` two hex digits each. */
export function parseBytes(tokens: readonly string[], what: string): Uint8Array {
  const out: number[] = [];
  let hex = false;
  for (const t of tokens) {
    if (t === 'hex') { hex = true; continue; }
    if (hex) {
      const clean = t.replace(/^0x/i, '');
      if (!/^(?:[0-9a-f]{2})+$/i.test(clean)) throw new UsageError(`${what}: '${t}' is not hex bytes`);
      for (let i = 0; i < clean.length; i += 2) out.push(parseInt(clean.slice(i, i + 2), 16));
      continue;
    }
    const v = /^0x[0-9a-f]+$/i.test(t) ? parseInt(t, 16) : /^0[0-7]+$/.test(t) ? parseInt(t, 8) : /^\d+$/.test(t) ? parseInt(t, 10) : NaN;
    if (!(v >= 0 && v <= 255)) throw new UsageError(`${what}: '${t}' is not a byte`);
    out.push(v);
  }
  return new Uint8Array(out);
}
