/**
 * Link-layer header types of capture files (the LINKTYPE_* registry shared by pcap and pcapng,
 * tcpdump.org/linktypes.html). Readers keep whatever number a file has; these are the common ones.
 */
export const LinkType = {
  NULL: 0,
  ETHERNET: 1,
  RAW: 101,
  IEEE802_11: 105,
  LOOP: 108,
  LINUX_SLL: 113,
  IEEE802_11_RADIOTAP: 127,
  IPV4: 228,
  IPV6: 229,
  LINUX_SLL2: 276,
} as const;

/** `LINKTYPE_ETHERNET` for 1, or `LINKTYPE_<n>` for a number not in {@link LinkType}. */
export function linkTypeName(linkType: number): string {
  for (const [name, value] of Object.entries(LinkType)) if (value === linkType) return `LINKTYPE_${name}`;
  return `LINKTYPE_${linkType}`;
}
