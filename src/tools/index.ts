/** The tools behind the `ebpf` subcommands, as a library: start one, read its events or edit its rules, dispose it. */
export * from './objects.js';
export * from './stop.js';
export * from './event-session.js';
export * from './execsnoop.js';
export * from './opensnoop.js';
export * from './hello.js';
export * from './cidr.js';
export * from './pins.js';
export * from './netif.js';
export * from './cgroup.js';
export * from './xdp-firewall.js';
export * from './tc-redirect.js';
export * from './sockmap-accel.js';
export * from './sockmap-bench.js';
export * from './pinned-attachment.js';
