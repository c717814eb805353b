/**
 * The classic libpcap capture format (draft-ietf-opsawg-pcap): a 24-byte file header, then
 * records of a 16-byte header and the packet bytes. Either byte order, microsecond or
 * nanosecond timestamps (told apart by the magic number); the link type is kept as the file has it.
 */
import { ParseError } from '../errors.js';
import { PCAP_MAGIC_NS, PCAP_MAGIC_US, concatBytes, type CapturedPacket, type PacketToWrite } from './capture.js';
import { LinkType } from './link-type.js';

export const PCAP_HEADER_LEN = 24;
export const PCAP_RECORD_HEADER_LEN = 16;
/** Largest record libpcap accepts beyond the snapshot length before calling a file corrupt. */
const MAX_RECORD = 0x40000 * 4;

/** The file header of a pcap file. */
export interface PcapHeader {
  readonly littleEndian: boolean;
  /** Timestamps in nanoseconds (magic 0xa1b23c4d) rather than microseconds. */
  readonly nanosecond: boolean;
  readonly versionMajor: number;
  readonly versionMinor: number;
  /** GMT offset of the timestamps, in seconds (libpcap writes and ignores 0). */
  readonly thiszone: number;
  readonly sigfigs: number;
  readonly snaplen: number;
  /** Link-layer header type (low 16 bits of the field). */
  readonly linkType: number;
  /** Bytes of frame check sequence at the end of every packet, when the file says (bits 26, 28–31). */
  readonly fcsLength?: number;
}

/**
 * Reads a pcap file held in memory. The header is parsed at once (a `ParseError` if it is bad);
 * packets are decoded as they are iterated, and a truncated or corrupt record throws a
 * `ParseError` with its byte offset when reached.
 *
 * @example
 * for (const packet of new PcapReader(bytes)) console.log(packet.timestamp, packet.data.length);
 */
export class PcapReader implements Iterable<CapturedPacket> {
  readonly header: PcapHeader;
  readonly #bytes: Uint8Array;
  readonly #view: DataView;

  constructor(bytes: Uint8Array) {
    this.#bytes = bytes;
    this.#view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    if (bytes.length < PCAP_HEADER_LEN) throw new ParseError(`pcap file header needs ${PCAP_HEADER_LEN} bytes, file has ${bytes.length}`, 0);
    const le = this.#view.getUint32(0, true);
    const be = this.#view.getUint32(0, false);
    const littleEndian = le === PCAP_MAGIC_US || le === PCAP_MAGIC_NS;
    if (!littleEndian && be !== PCAP_MAGIC_US && be !== PCAP_MAGIC_NS) {
      throw new ParseError(`not a pcap file (magic 0x${be.toString(16).padStart(8, '0')})`, 0);
    }
    const v = this.#view;
    const link = v.getUint32(20, littleEndian);
    this.header = {
      littleEndian,
      nanosecond: (littleEndian ? le : be) === PCAP_MAGIC_NS,
      versionMajor: v.getUint16(4, littleEndian),
      versionMinor: v.getUint16(6, littleEndian),
      thiszone: v.getInt32(8, littleEndian),
      sigfigs: v.getUint32(12, littleEndian),
      snaplen: v.getUint32(16, littleEndian),
      linkType: link & 0xffff,
      ...((link & 0x04000000) !== 0 && { fcsLength: ((link >>> 28) & 0xf) * 2 }),
    };
    if (this.header.versionMajor !== 2) throw new ParseError(`pcap version ${this.header.versionMajor}.${this.header.versionMinor} is not 2.x`, 4);
  }

  *[Symbol.iterator](): Iterator<CapturedPacket> {
    const { littleEndian, nanosecond, snaplen, linkType } = this.header;
    const v = this.#view;
    const bytes = this.#bytes;
    const limit = Math.max(snaplen, MAX_RECORD);
    let at = PCAP_HEADER_LEN;
    while (at < bytes.length) {
      if (at + PCAP_RECORD_HEADER_LEN > bytes.length) {
        throw new ParseError(`truncated pcap record header (${bytes.length - at} of ${PCAP_RECORD_HEADER_LEN} bytes)`, at);
      }
      const seconds = v.getUint32(at, littleEndian);
      const fraction = v.getUint32(at + 4, littleEndian);
      const inclLen = v.getUint32(at + 8, littleEndian);
      const origLen = v.getUint32(at + 12, littleEndian);
      if (inclLen > limit) throw new ParseError(`pcap record of ${inclLen} bytes exceeds the snapshot length ${snaplen}`, at + 8);
      const start = at + PCAP_RECORD_HEADER_LEN;
      if (start + inclLen > bytes.length) {
        throw new ParseError(`truncated pcap record: ${inclLen} bytes announced, ${bytes.length - start} present`, at);
      }
      const timestamp = BigInt(seconds) * 1_000_000_000n + BigInt(fraction) * (nanosecond ? 1n : 1000n);
      yield { timestamp, data: bytes.subarray(start, start + inclLen), origLen, interface: 0, linkType, offset: at };
      at = start + inclLen;
    }
  }
}

/** Options of {@link writePcap}. */
export interface PcapWriteOptions {
  /** Default `LinkType.ETHERNET`. */
  linkType?: number;
  /** Packets are cut to this many bytes (default 262144); `origLen` keeps their length. */
  snaplen?: number;
  /** Nanosecond timestamps (magic 0xa1b23c4d); microseconds (truncated) otherwise. */
  nanosecond?: boolean;
  /** Default true. */
  littleEndian?: boolean;
}

/**
 * A pcap file of `packets`.
 *
 * @example
 * const file = writePcap([{ data: frame, timestamp: 1_700_000_000_000_000_000n }]);
 */
export function writePcap(packets: Iterable<PacketToWrite>, options: PcapWriteOptions = {}): Uint8Array {
  const le = options.littleEndian ?? true;
  const snaplen = options.snaplen ?? 262144;
  const ns = options.nanosecond ?? false;
  const header = new Uint8Array(PCAP_HEADER_LEN);
  const hv = new DataView(header.buffer);
  hv.setUint32(0, ns ? PCAP_MAGIC_NS : PCAP_MAGIC_US, le);
  hv.setUint16(4, 2, le);
  hv.setUint16(6, 4, le);
  hv.setUint32(16, snaplen, le);
  hv.setUint32(20, options.linkType ?? LinkType.ETHERNET, le);
  const chunks = [header];
  for (const p of packets) {
    const data = p.data.subarray(0, snaplen);
    const record = new Uint8Array(PCAP_RECORD_HEADER_LEN + data.length);
    const rv = new DataView(record.buffer);
    const ts = p.timestamp ?? 0n;
    if (ts < 0n) throw new RangeError(`timestamp ${ts} is before the epoch`);
    rv.setUint32(0, Number(ts / 1_000_000_000n), le);
    rv.setUint32(4, Number(ns ? ts % 1_000_000_000n : (ts % 1_000_000_000n) / 1000n), le);
    rv.setUint32(8, data.length, le);
    rv.setUint32(12, p.origLen ?? p.data.length, le);
    record.set(data, PCAP_RECORD_HEADER_LEN);
    chunks.push(record);
  }
  return concatBytes(chunks);
}
