/**
 * Socket addresses of the simulated sockets: IPv4 (`127.0.0.1`) and IPv6 (`::1`, `fe80::1`)
 * text to the bytes the kernel keeps in network byte order, and back.
 */

/** `AF_INET` and `AF_INET6` (include/linux/socket.h). */
export const AddressFamily = { INET: 2, INET6: 10 } as const;

/** A parsed address: its family and its bytes (4 for IPv4, 16 for IPv6), network byte order. */
export interface IpAddress {
  readonly family: number;
  readonly bytes: Uint8Array;
  /** The text it was parsed from, normalised (`127.0.0.1`, `::1`). */
  readonly text: string;
}

function parseIpv4(text: string): Uint8Array | undefined {
  const parts = text.split('.');
  if (parts.length !== 4) return undefined;
  const bytes = new Uint8Array(4);
  for (let i = 0; i < 4; i++) {
    const p = parts[i]!;
    if (!/^\d{1,3}$/.test(p) || Number(p) > 255) return undefined;
    bytes[i] = Number(p);
  }
  return bytes;
}

function parseIpv6(text: string): Uint8Array | undefined {
  const halves = text.split('::');
  if (halves.length > 2) return undefined;
  const groups = (s: string): number[] | undefined => {
    if (s === '') return [];
    const out: number[] = [];
    const parts = s.split(':');
    for (let i = 0; i < parts.length; i++) {
      const p = parts[i]!;
      if (i === parts.length - 1 && p.includes('.')) {
        const v4 = parseIpv4(p);
        if (v4 === undefined) return undefined;
        out.push((v4[0]! << 8) | v4[1]!, (v4[2]! << 8) | v4[3]!);
      } else {
        if (!/^[0-9a-fA-F]{1,4}$/.test(p)) return undefined;
        out.push(parseInt(p, 16));
      }
    }
    return out;
  };
  const head = groups(halves[0]!);
  const tail = halves.length === 2 ? groups(halves[1]!) : [];
  if (head === undefined || tail === undefined) return undefined;
  const fill = 8 - head.length - tail.length;
  if ((halves.length === 1 && fill !== 0) || (halves.length === 2 && fill < 1)) return undefined;
  const all = [...head, ...new Array<number>(Math.max(0, fill)).fill(0), ...tail];
  const bytes = new Uint8Array(16);
  all.forEach((g, i) => { bytes[2 * i] = g >> 8; bytes[2 * i + 1] = g & 0xff; });
  return bytes;
}

/** Parses `text` as an IPv4 or IPv6 address; throws a TypeError naming it otherwise. */
export function parseIp(text: string): IpAddress {
  const v4 = parseIpv4(text);
  if (v4 !== undefined) return { family: AddressFamily.INET, bytes: v4, text: formatIp(v4) };
  const v6 = parseIpv6(text);
  if (v6 !== undefined) return { family: AddressFamily.INET6, bytes: v6, text: formatIp(v6) };
  throw new TypeError(`'${text}' is not an IPv4 or IPv6 address`);
}

/** Text of a 4- or 16-byte address (IPv6 with the longest run of zero groups as `::`). */
export function formatIp(bytes: Uint8Array): string {
  if (bytes.length === 4) return [...bytes].join('.');
  const groups: number[] = [];
  for (let i = 0; i < 16; i += 2) groups.push((bytes[i]! << 8) | bytes[i + 1]!);
  let best = -1;
  let bestLen = 1;
  for (let i = 0; i < 8;) {
    if (groups[i] !== 0) { i++; continue; }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLen) { best = i; bestLen = j - i; }
    i = j;
  }
  const hex = (gs: number[]): string => gs.map((g) => g.toString(16)).join(':');
  if (best < 0) return hex(groups);
  return `${hex(groups.slice(0, best))}::${hex(groups.slice(best + bestLen))}`;
}

/** The all-zero address of `family` (`0.0.0.0`, `::`). */
export function anyAddress(family: number): IpAddress {
  return family === AddressFamily.INET6 ? parseIp('::') : parseIp('0.0.0.0');
}

/** Whether `a` is the wildcard address. */
export function isAny(a: IpAddress): boolean {
  return a.bytes.every((b) => b === 0);
}
