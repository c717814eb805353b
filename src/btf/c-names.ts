/**
 * Unique C names for BTF types. BTF (vmlinux's especially) can hold several different types
 * with one name — `struct foo` of two compilation units that dedup could not merge — and C
 * cannot; like libbpf (btf_dump.c btf_dump_resolve_name), the first one to be written keeps
 * the name and later ones become `foo___2`, `foo___3`, … CO-RE ignores a `___suffix` when it
 * matches names against the kernel, so programs can still use either.
 *
 * C has two namespaces that matter here: tags (struct, union and enum names) and ordinary
 * identifiers (typedef names and enumerators).
 */

/** Counts the uses of each name in one C namespace. */
export class NameSpace {
  private readonly counts = new Map<string, number>();

  /** Records one more use of `name`; returns how many there have been, this one included. */
  use(name: string): number {
    const n = (this.counts.get(name) ?? 0) + 1;
    this.counts.set(name, n);
    return n;
  }

  /** `name` for its first use, `name___N` for the N-th. */
  unique(name: string): string {
    const n = this.use(name);
    return n > 1 ? `${name}___${n}` : name;
  }
}
