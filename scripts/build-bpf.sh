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

cd "$(dirname "$0")/../bpf/fixtures"
FLAGS=(-O2 -g -mcpu=v4 -fdebug-compilation-dir=. -Wall -Werror)

for src in *.c; do
  obj="${src%.c}.o"
  echo "  CC  bpf/fixtures/$obj"
  "$CLANG" "${FLAGS[@]}" -target bpfel -c "$src" -o "$obj"
done

for src in *.s; do
  obj="${src%.s}.o"
  echo "  AS  bpf/fixtures/$obj"
  "$CLANG" -target bpfel -c "$src" -o "$obj"
done

# One big-endian build, so the ELF reader and the listing are tested in both byte orders.
echo "  CC  bpf/fixtures/isa_mix.bpfeb.o"
"$CLANG" "${FLAGS[@]}" -target bpfeb -c isa_mix.c -o isa_mix.bpfeb.o
