/**
 * What a program's return value means, per hook (include/uapi/linux/bpf.h, pkt_cls.h).
 */

/** `enum xdp_action`. */
export const XdpAction = { ABORTED: 0, DROP: 1, PASS: 2, TX: 3, REDIRECT: 4 } as const;

/** TC verdicts `TC_ACT_*` (include/uapi/linux/pkt_cls.h). */
export const TcAction = {
  UNSPEC: -1, OK: 0, RECLASSIFY: 1, SHOT: 2, PIPE: 3, STOLEN: 4, QUEUED: 5, REPEAT: 6, REDIRECT: 7, TRAP: 8,
} as const;

/** `enum sk_action` of sk_skb / sk_msg / sk_lookup / sk_reuseport programs. */
export const SkAction = { DROP: 0, PASS: 1 } as const;

/** `XDP_PASS` for 2; `XDP_UNKNOWN(7)` for a value outside the enum (the kernel treats it as an abort). */
export function xdpActionName(r0: number): string {
  for (const [name, value] of Object.entries(XdpAction)) if (value === r0) return `XDP_${name}`;
  return `XDP_UNKNOWN(${r0})`;
}

/** `TC_ACT_OK` for 0; the 32-bit value is read as signed (TC_ACT_UNSPEC is -1). */
export function tcActionName(r0: number): string {
  const value = r0 | 0;
  for (const [name, v] of Object.entries(TcAction)) if (v === value) return `TC_ACT_${name}`;
  return `TC_ACT_UNKNOWN(${value})`;
}
