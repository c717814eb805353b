/**
 * What the capture-file readers yield and the writers take, and format detection.
 */
import { ParseError } from '../errors.js';

/** One packet of a capture file. */
export interface CapturedPacket {
  /** Capture time in nanoseconds since the Unix epoch (finer resolutions are truncated). */
  readonly timestamp: bigint;
  /** The bytes captured (a view into the file's bytes, not a copy). */
  readonly data: Uint8Array;
  /** Length of the packet on the wire; more than `data.length` when the snapshot length cut it. */
  readonly origLen: number;
  /** Interface index: 0 in pcap; in pcapng, the index into the reader's `interfaces` (all sections). */
  readonly interface: number;
  /** Link-layer header type of `data` (`LinkType.*`), as the file has it. */
  readonly linkType: number;
  /** Byte offset of the packet's record (pcap) or block (pcapng) in the file. */
  readonly offset: number;
}

/** A packet to write: `timestamp` defaults to 0, `origLen` to `data.length`, `interface` to 0. */
export interface PacketToWrite {
  readonly data: Uint8Array;
  readonly timestamp?: bigint;
  readonly origLen?: number;
  readonly interface?: number;
}

/** pcap magic numbers as read little-endian, and pcapng's Section Header Block type. */
export const PCAP_MAGIC_US = 0xa1b2c3d4;
export const PCAP_MAGIC_NS = 0xa1b23c4d;
export const PCAPNG_SHB = 0x0a0d0d0a;

/** Which capture format `bytes` are in, by their first four bytes. */
export function captureFormat(bytes: Uint8Array): 'pcap' | 'pcapng' {
  if (bytes.length < 4) throw new ParseError(`a capture file needs at least 4 bytes, got ${bytes.length}`, 0);
  const view = new DataView(bytes.buffer, bytes.byteOffset, 4);
  const le = view.getUint32(0, true);
  const be = view.getUint32(0, false);
  if (le === PCAPNG_SHB) return 'pcapng';
  if (le === PCAP_MAGIC_US || le === PCAP_MAGIC_NS || be === PCAP_MAGIC_US || be === PCAP_MAGIC_NS) return 'pcap';
  throw new ParseError(`not a pcap or pcapng file (magic 0x${be.toString(16).padStart(8, '0')})`, 0);
}

/** Concatenation of `chunks`. */
export function concatBytes(chunks: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.length;
  }
  return out;
}
