/**
 * The pcapng capture format (draft-ietf-opsawg-pcapng): a sequence of blocks, each
 * `type, total length, body, total length`. A Section Header Block starts every section and sets
 * its byte order; Interface Description Blocks declare interfaces (link type, snapshot length,
 * `if_tsresol`, `if_tsoffset`); packets come in Enhanced (EPB), Simple (SPB) and obsolete (OPB)
 * Packet Blocks. Other blocks are skipped.
 */
import { ParseError } from '../errors.js';
import { PCAPNG_SHB, concatBytes, type CapturedPacket, type PacketToWrite } from './capture.js';
import { LinkType } from './link-type.js';

/** Block types (pcapng §11.1). */
export const PcapngBlock = {
  SECTION_HEADER: PCAPNG_SHB,
  INTERFACE_DESCRIPTION: 1,
  OBSOLETE_PACKET: 2,
  SIMPLE_PACKET: 3,
  NAME_RESOLUTION: 4,
  INTERFACE_STATISTICS: 5,
  ENHANCED_PACKET: 6,
} as const;

const BYTE_ORDER_MAGIC = 0x1a2b3c4d;
/** Option codes used here: opt_endofopt, opt_comment, if_name, if_description, if_tsresol, if_fcslen, if_tsoffset, shb_userappl. */
const OPT = { END: 0, COMMENT: 1, IF_NAME: 2, IF_DESCRIPTION: 3, IF_TSRESOL: 9, IF_FCSLEN: 13, IF_TSOFFSET: 14, SHB_USERAPPL: 4 } as const;

/** An interface as its Interface Description Block declares it. */
export interface PcapngInterface {
  /** Index of the section (0-based) the interface belongs to. */
  readonly section: number;
  readonly linkType: number;
  /** 0 means no limit. */
  readonly snaplen: number;
  readonly name?: string;
  readonly description?: string;
  /** The raw `if_tsresol` byte: bit 7 clear = 10^-n seconds, set = 2^-n (default 6: microseconds). */
  readonly tsresol: number;
  /** `if_tsoffset`: seconds added to every timestamp (default 0). */
  readonly tsoffset: bigint;
  readonly fcsLength?: number;
}

/** A section's header. */
export interface PcapngSection {
  readonly littleEndian: boolean;
  readonly versionMajor: number;
  readonly versionMinor: number;
  /** Byte offset of its Section Header Block. */
  readonly offset: number;
}

interface Option { code: number; value: Uint8Array; offset: number }

/**
 * Reads a pcapng file held in memory. Packets are decoded as they are iterated; `sections` and
 * `interfaces` fill in as their blocks are passed. A malformed block throws a `ParseError` with
 * its byte offset when reached.
 *
 * @example
 * const reader = new PcapngReader(bytes);
 * for (const packet of reader) console.log(reader.interfaces[packet.interface]?.name, packet.data.length);
 */
export class PcapngReader implements Iterable<CapturedPacket> {
  readonly sections: PcapngSection[] = [];
  readonly interfaces: PcapngInterface[] = [];
  readonly #bytes: Uint8Array;
  readonly #view: DataView;

  constructor(bytes: Uint8Array) {
    this.#bytes = bytes;
    this.#view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    if (bytes.length < 12 || this.#view.getUint32(0, true) !== PCAPNG_SHB) {
      throw new ParseError('not a pcapng file (no Section Header Block at the start)', 0);
    }
  }

  *[Symbol.iterator](): Iterator<CapturedPacket> {
    this.sections.length = 0;
    this.interfaces.length = 0;
    const bytes = this.#bytes;
    const v = this.#view;
    let le = true;
    /** Global index of the section's first interface. */
    let base = 0;
    let at = 0;
    while (at < bytes.length) {
      if (at + 12 > bytes.length) throw new ParseError(`truncated pcapng block header (${bytes.length - at} bytes left)`, at);
      const rawType = v.getUint32(at, true);
      if (rawType === PCAPNG_SHB) {
        const magic = v.getUint32(at + 8, true);
        if (magic === BYTE_ORDER_MAGIC) le = true;
        else if (magic === 0x4d3c2b1a) le = false;
        else throw new ParseError(`bad byte-order magic 0x${magic.toString(16)} in Section Header Block`, at + 8);
      }
      const type = v.getUint32(at, le);
      const length = v.getUint32(at + 4, le);
      if (length < 12 || length % 4 !== 0) throw new ParseError(`pcapng block length ${length} is not a multiple of 4 of at least 12`, at + 4);
      if (at + length > bytes.length) throw new ParseError(`truncated pcapng block: ${length} bytes announced, ${bytes.length - at} present`, at);
      const trailer = v.getUint32(at + length - 4, le);
      if (trailer !== length) throw new ParseError(`pcapng block length ${length} and trailing length ${trailer} differ`, at + length - 4);
      const body = at + 8;
      const bodyEnd = at + length - 4;
      const need = (n: number, what: string): void => {
        if (body + n > bodyEnd) throw new ParseError(`${what} needs ${n} bytes of body, has ${bodyEnd - body}`, at);
      };
      switch (type) {
        case PcapngBlock.SECTION_HEADER: {
          need(16, 'Section Header Block');
          const versionMajor = v.getUint16(body + 4, le);
          if (versionMajor !== 1) throw new ParseError(`pcapng version ${versionMajor} is not 1`, body + 4);
          this.sections.push({ littleEndian: le, versionMajor, versionMinor: v.getUint16(body + 6, le), offset: at });
          base = this.interfaces.length;
          break;
        }
        case PcapngBlock.INTERFACE_DESCRIPTION: {
          need(8, 'Interface Description Block');
          let tsresol = 6;
          let tsoffset = 0n;
          let name: string | undefined;
          let description: string | undefined;
          let fcsLength: number | undefined;
          for (const o of this.#options(body + 8, bodyEnd, le)) {
            if (o.code === OPT.IF_TSRESOL) {
              if (o.value.length !== 1) throw new ParseError(`if_tsresol has ${o.value.length} bytes, not 1`, o.offset);
              tsresol = o.value[0]!;
              if ((tsresol & 0x80 ? tsresol & 0x7f : tsresol) > 63) throw new ParseError(`if_tsresol ${tsresol} is out of range`, o.offset);
            } else if (o.code === OPT.IF_TSOFFSET) {
              if (o.value.length !== 8) throw new ParseError(`if_tsoffset has ${o.value.length} bytes, not 8`, o.offset);
              tsoffset = new DataView(o.value.buffer, o.value.byteOffset, 8).getBigInt64(0, le);
            } else if (o.code === OPT.IF_NAME) name = utf8(o.value);
            else if (o.code === OPT.IF_DESCRIPTION) description = utf8(o.value);
            else if (o.code === OPT.IF_FCSLEN && o.value.length === 1) fcsLength = o.value[0]!;
          }
          this.interfaces.push({
            section: this.sections.length - 1, linkType: v.getUint16(body, le), snaplen: v.getUint32(body + 4, le), tsresol, tsoffset,
            ...(name !== undefined && { name }), ...(description !== undefined && { description }), ...(fcsLength !== undefined && { fcsLength }),
          });
          break;
        }
        case PcapngBlock.ENHANCED_PACKET:
        case PcapngBlock.OBSOLETE_PACKET: {
          need(20, type === PcapngBlock.ENHANCED_PACKET ? 'Enhanced Packet Block' : 'Packet Block');
          const id = type === PcapngBlock.ENHANCED_PACKET ? v.getUint32(body, le) : v.getUint16(body, le);
          const iface = this.#interface(base, id, at);
          const units = (BigInt(v.getUint32(body + 4, le)) << 32n) | BigInt(v.getUint32(body + 8, le));
          const capLen = v.getUint32(body + 12, le);
          const origLen = v.getUint32(body + 16, le);
          const start = body + 20;
          if (start + capLen > bodyEnd) throw new ParseError(`packet of ${capLen} bytes overruns its block (${bodyEnd - start} bytes left)`, body + 12);
          // Options after the padded data must be well formed even though none is used here.
          for (const _ of this.#options(start + pad4(capLen), bodyEnd, le)) { /* validate */ }
          yield {
            timestamp: toNanoseconds(units, iface.tsresol, iface.tsoffset), data: bytes.subarray(start, start + capLen),
            origLen, interface: base + id, linkType: iface.linkType, offset: at,
          };
          break;
        }
        case PcapngBlock.SIMPLE_PACKET: {
          need(4, 'Simple Packet Block');
          const iface = this.#interface(base, 0, at);
          const origLen = v.getUint32(body, le);
          // The captured length is implied: the packet, cut to the snapshot length and to the block.
          let capLen = Math.min(origLen, bodyEnd - body - 4);
          if (iface.snaplen !== 0) capLen = Math.min(capLen, iface.snaplen);
          yield { timestamp: 0n, data: bytes.subarray(body + 4, body + 4 + capLen), origLen, interface: base, linkType: iface.linkType, offset: at };
          break;
        }
        default:
          break; // name resolution, statistics, decryption secrets, custom blocks
      }
      at += length;
    }
  }

  #interface(base: number, id: number, at: number): PcapngInterface {
    const iface = this.interfaces[base + id];
    if (iface === undefined || base + id >= this.interfaces.length) {
      throw new ParseError(`packet names interface ${id}, but its section declares ${this.interfaces.length - base}`, at);
    }
    return iface;
  }

  *#options(start: number, end: number, le: boolean): Generator<Option> {
    const v = this.#view;
    let at = start;
    while (at + 4 <= end) {
      const code = v.getUint16(at, le);
      const len = v.getUint16(at + 2, le);
      if (code === OPT.END) return;
      if (at + 4 + len > end) throw new ParseError(`option ${code} of ${len} bytes overruns its block`, at);
      yield { code, value: this.#bytes.subarray(at + 4, at + 4 + len), offset: at };
      at += 4 + pad4(len);
    }
  }
}

function pad4(n: number): number {
  return (n + 3) & ~3;
}

function utf8(bytes: Uint8Array): string {
  return new TextDecoder().decode(bytes);
}

/** Timestamp units of an interface with `if_tsresol` → nanoseconds since the epoch. */
export function toNanoseconds(units: bigint, tsresol: number, tsoffset = 0n): bigint {
  const offset = tsoffset * 1_000_000_000n;
  if (tsresol & 0x80) return ((units * 1_000_000_000n) >> BigInt(tsresol & 0x7f)) + offset;
  const exp = tsresol;
  return (exp <= 9 ? units * 10n ** BigInt(9 - exp) : units / 10n ** BigInt(exp - 9)) + offset;
}

/** Nanoseconds → timestamp units of `tsresol` (truncating). */
function fromNanoseconds(ns: bigint, tsresol: number): bigint {
  if (tsresol & 0x80) return (ns << BigInt(tsresol & 0x7f)) / 1_000_000_000n;
  return tsresol <= 9 ? ns / 10n ** BigInt(9 - tsresol) : ns * 10n ** BigInt(tsresol - 9);
}

/** An interface to declare in a written file. */
export interface PcapngInterfaceOptions {
  /** Default `LinkType.ETHERNET`. */
  linkType?: number;
  /** Default 0 (no limit); packets are cut to it. */
  snaplen?: number;
  name?: string;
  /** `if_tsresol` byte; default 9 (nanoseconds). */
  tsresol?: number;
}

/** Options of {@link writePcapng}. */
export interface PcapngWriteOptions {
  /** Default true. */
  littleEndian?: boolean;
  /** Interfaces, in id order; default one Ethernet interface. */
  interfaces?: readonly PcapngInterfaceOptions[];
  /** `shb_userappl`, the application that wrote the file. */
  application?: string;
}

/**
 * A pcapng file of one section: a Section Header Block, one Interface Description Block per
 * interface, and an Enhanced Packet Block per packet.
 */
export function writePcapng(packets: Iterable<PacketToWrite>, options: PcapngWriteOptions = {}): Uint8Array {
  const le = options.littleEndian ?? true;
  const interfaces = options.interfaces ?? [{}];
  const chunks: Uint8Array[] = [];
  const shbOptions = options.application === undefined ? [] : [option(OPT.SHB_USERAPPL, new TextEncoder().encode(options.application), le)];
  const shb = new Uint8Array(16);
  const sv = new DataView(shb.buffer);
  sv.setUint32(0, BYTE_ORDER_MAGIC, le);
  sv.setUint16(4, 1, le);
  sv.setBigInt64(8, -1n, le); // section length not given
  chunks.push(block(PcapngBlock.SECTION_HEADER, [shb, ...endOptions(shbOptions, le)], le));
  for (const iface of interfaces) {
    const fixed = new Uint8Array(8);
    const fv = new DataView(fixed.buffer);
    fv.setUint16(0, iface.linkType ?? LinkType.ETHERNET, le);
    fv.setUint32(4, iface.snaplen ?? 0, le);
    const opts = [option(OPT.IF_TSRESOL, Uint8Array.of(iface.tsresol ?? 9), le)];
    if (iface.name !== undefined) opts.unshift(option(OPT.IF_NAME, new TextEncoder().encode(iface.name), le));
    chunks.push(block(PcapngBlock.INTERFACE_DESCRIPTION, [fixed, ...endOptions(opts, le)], le));
  }
  for (const p of packets) {
    const id = p.interface ?? 0;
    const iface = interfaces[id];
    if (iface === undefined) throw new RangeError(`packet names interface ${id}, but only ${interfaces.length} are declared`);
    const data = iface.snaplen ? p.data.subarray(0, iface.snaplen) : p.data;
    const units = fromNanoseconds(p.timestamp ?? 0n, iface.tsresol ?? 9);
    const fixed = new Uint8Array(20 + pad4(data.length));
    const fv = new DataView(fixed.buffer);
    fv.setUint32(0, id, le);
    fv.setUint32(4, Number((units >> 32n) & 0xffffffffn), le);
    fv.setUint32(8, Number(units & 0xffffffffn), le);
    fv.setUint32(12, data.length, le);
    fv.setUint32(16, p.origLen ?? p.data.length, le);
    fixed.set(data, 20);
    chunks.push(block(PcapngBlock.ENHANCED_PACKET, [fixed], le));
  }
  return concatBytes(chunks);
}

function option(code: number, value: Uint8Array, le: boolean): Uint8Array {
  const out = new Uint8Array(4 + pad4(value.length));
  const v = new DataView(out.buffer);
  v.setUint16(0, code, le);
  v.setUint16(2, value.length, le);
  out.set(value, 4);
  return out;
}

/** Options followed by opt_endofopt, or nothing when there are none. */
function endOptions(options: Uint8Array[], le: boolean): Uint8Array[] {
  return options.length === 0 ? [] : [...options, option(OPT.END, new Uint8Array(0), le)];
}

function block(type: number, parts: Uint8Array[], le: boolean): Uint8Array {
  const body = concatBytes(parts);
  const out = new Uint8Array(12 + body.length);
  const v = new DataView(out.buffer);
  v.setUint32(0, type, le);
  v.setUint32(4, out.length, le);
  out.set(body, 8);
  v.setUint32(out.length - 4, out.length, le);
  return out;
}
