#!/usr/bin/env bash
# Rebuilds the checked-in eBPF objects of bpf/fixtures from their C (and .s) sources with clang-19.
# The objects are committed so tests run without clang; rerun this after editing a .c file
# (`npm run build:bpf`). Builds are reproducible: paths in the debug info are relative.
set -euo pipefail

CLANG="${CLANG:-$(command -v clang-19 || command -v clang || true)}"
if [[ -z "$CLANG" ]]; then
  echo "build-bpf: clang-19 not found (set CLANG=/path/to/clang)" >&2
  exit 1
fi

cd "$(dirname "$0")/.."
# bpf/include/vmlinux.h is written by our own BTF-to-C dumper from the running kernel's BTF
# (the header is committed, so a machine without /sys/kernel/btf keeps the existing one).
if [[ -r /sys/kernel/btf/vmlinux && -f dist/src/cli/main.js ]]; then
  echo "  GEN bpf/include/vmlinux.h"
  node bin/ebpf.js btf dump /sys/kernel/btf/vmlinux --format c > bpf/include/vmlinux.h.tmp
  mv bpf/include/vmlinux.h.tmp bpf/include/vmlinux.h
fi
cd bpf/fixtures
FLAGS=(-O2 -g -mcpu=v4 -fdebug-compilation-dir=. -Wall -Werror)

for src in *.c; do
  obj="${src%.c}.o"
  # The CO-RE fixtures (core_*.c) use the kernel types of bpf/include/vmlinux.h (bpftool btf
  # dump of /sys/kernel/btf/vmlinux) and libbpf's bpf_core_read.h (libbpf-dev).
  extra=()
  [[ "$src" == core_* ]] && extra=(-I../include)
  echo "  CC  bpf/fixtures/$obj"
  "$CLANG" "${FLAGS[@]}" "${extra[@]}" -target bpfel -c "$src" -o "$obj"
done

for src in *.s; do
  obj="${src%.s}.o"
  echo "  AS  bpf/fixtures/$obj"
  "$CLANG" -target bpfel -c "$src" -o "$obj"
done

# One big-endian build, so the ELF reader and the listing are tested in both byte orders.
echo "  CC  bpf/fixtures/isa_mix.bpfeb.o"
"$CLANG" "${FLAGS[@]}" -target bpfeb -c isa_mix.c -o isa_mix.bpfeb.o
# And the BTF value codec's fixture, whose bitfields and ints are laid out by byte order.
echo "  CC  bpf/fixtures/btf_values.bpfeb.o"
"$CLANG" "${FLAGS[@]}" -target bpfeb -c btf_values.c -o btf_values.bpfeb.o

# The object-file fixtures of src/object (bpf/objects): maps, global data, subprograms and
# section names, against the kernel types of bpf/include/vmlinux.h (bpftool btf dump of
# /sys/kernel/btf/vmlinux) and libbpf's headers (libbpf-dev).
cd ../objects
OBJ_FLAGS=(-O2 -g -mcpu=v3 -fdebug-compilation-dir=. -Wall -Werror -Wno-unused-variable -I../include -D__TARGET_ARCH_x86)
for src in *.c; do
  obj="${src%.c}.o"
  echo "  CC  bpf/objects/$obj"
  "$CLANG" "${OBJ_FLAGS[@]}" -target bpfel -c "$src" -o "$obj"
done

# The programs of the `ebpf` tools (bpf/tools: execsnoop, opensnoop, hello, xdp_firewall,
# tc_redirect, sockmap_accel), loaded at run time by src/tools from this folder; same headers.
cd ../tools
TOOL_FLAGS=(-O2 -g -mcpu=v3 -fdebug-compilation-dir=. -Wall -Werror -I../include -D__TARGET_ARCH_x86)
for src in *.c; do
  obj="${src%.c}.o"
  echo "  CC  bpf/tools/$obj"
  "$CLANG" "${TOOL_FLAGS[@]}" -target bpfel -c "$src" -o "$obj"
done

# The examples (examples/*.c: checksum for `ebpf exec`, xdp_firewall for `ebpf run`), built with
# the flags their headers give: self-contained, no headers of ours.
cd ../../examples
EXAMPLE_FLAGS=(-O2 -g -target bpf -mcpu=v3)
for src in *.c; do
  obj="${src%.c}.o"
  # checksum.o has always been built without a relative debug directory; keep its bytes.
  extra=(-fdebug-compilation-dir=.)
  [[ "$src" == checksum.c ]] && extra=()
  echo "  CC  examples/$obj"
  "$CLANG" "${EXAMPLE_FLAGS[@]}" "${extra[@]}" -c "$src" -o "$obj"
done
