/** Reading a capture file of either format. */
import { captureFormat, type CapturedPacket } from './capture.js';
import { PcapReader } from './pcap.js';
import { PcapngReader } from './pcapng.js';

/**
 * A reader for `bytes` in pcap or pcapng format, told apart by the first four bytes. Throws
 * `ParseError` for anything else.
 *
 * @example
 * for (const { data, timestamp } of readCapture(bytes)) handle(data, timestamp);
 */
export function readCapture(bytes: Uint8Array): PcapReader | PcapngReader {
  return captureFormat(bytes) === 'pcap' ? new PcapReader(bytes) : new PcapngReader(bytes);
}

export type { CapturedPacket };
