/* Shared by the programs of the `ebpf` tools (the .c files of bpf/tools): the kernel's types from
 * bpf/include/vmlinux.h, libbpf's helper macros (libbpf-dev), and the UAPI #defines that a
 * BTF dump cannot carry. */
#ifndef EBPF_TOOLS_H
#define EBPF_TOOLS_H

#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_endian.h>

#define TASK_COMM_LEN 16
#define ETH_P_IP 0x0800
#define AF_INET 2

/*
 * Puts `type` into the object's BTF under its own name. clang writes only the types that
 * functions, maps and global variables use, and a ring-buffer record is none of those; user
 * space finds the record's layout by name (`openRingBuffer(map, { type: 'struct event' })`).
 * Costs one pointer of .rodata, never read.
 */
#define EXPORT_TYPE(type, name) const type *const __export_##name __attribute__((used)) = 0

#endif
