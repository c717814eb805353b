/* Native C baseline for the shared benchmark programs, measured in the same run as the
 * TypeScript engines. The program bodies are ../shared/bench/progs/*.c built with -DNATIVE
 * (plain x86-64/arm64 functions with the VM's context layout). Prints one JSON object:
 * {"nop": ns_per_run, ...}. */
#define _POSIX_C_SOURCE 199309L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef unsigned int u32;
typedef unsigned long long u64;
struct vm_ctx { u64 data; u64 data_end; };

u64 nop(struct vm_ctx *);
u64 xdp_parse(struct vm_ctx *);
u64 alu_loop(struct vm_ctx *);
u64 checksum(struct vm_ctx *);
u64 map_hash(struct vm_ctx *);

/* The map of map_hash: open addressing, u32 key -> u64 value, as BPF_MAP_TYPE_HASH would. */
#define SLOTS 2048
static u32 keys[SLOTS];
static u64 values[SLOTS];
static unsigned char used[SLOTS];

void *native_map_lookup_elem(void *map, const void *key) {
  (void)map;
  u32 k = *(const u32 *)key;
  for (u32 i = (k * 2654435761u) % SLOTS, n = 0; n < SLOTS; i = (i + 1) % SLOTS, n++) {
    if (!used[i]) return 0;
    if (keys[i] == k) return &values[i];
  }
  return 0;
}

long native_map_update_elem(void *map, const void *key, const void *value, u64 flags) {
  (void)map; (void)flags;
  u32 k = *(const u32 *)key;
  for (u32 i = (k * 2654435761u) % SLOTS, n = 0; n < SLOTS; i = (i + 1) % SLOTS, n++) {
    if (!used[i] || keys[i] == k) {
      used[i] = 1; keys[i] = k; values[i] = *(const u64 *)value;
      return 0;
    }
  }
  return -7; /* -E2BIG */
}

static unsigned char *read_file(const char *path, size_t *len) {
  FILE *f = fopen(path, "rb");
  if (!f) { perror(path); exit(1); }
  static unsigned char buf[4][65536];
  static int next;
  unsigned char *b = buf[next++ & 3];
  *len = fread(b, 1, sizeof buf[0], f);
  fclose(f);
  return b;
}

static double now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1e9 + ts.tv_nsec;
}

static double measure(u64 (*fn)(struct vm_ctx *), struct vm_ctx *ctx, u64 expect, const char *name) {
  volatile u64 sink = fn(ctx);
  if (sink != expect && expect != (u64)-1) {
    fprintf(stderr, "%s: r0 = %llu, expected %llu\n", name, (unsigned long long)sink, (unsigned long long)expect);
    exit(1);
  }
  long iters = 1;
  double elapsed = 0;
  while (elapsed < 2e8) { /* grow until one batch takes 0.2 s */
    iters *= 4;
    double t0 = now_ns();
    for (long i = 0; i < iters; i++) sink = fn(ctx);
    elapsed = now_ns() - t0;
  }
  (void)sink;
  return elapsed / iters;
}

int main(int argc, char **argv) {
  if (argc < 3) { fprintf(stderr, "usage: harness PKT64 PKT1500\n"); return 2; }
  size_t n64, n1500;
  unsigned char *p64 = read_file(argv[1], &n64);
  unsigned char *p1500 = read_file(argv[2], &n1500);
  struct vm_ctx c64 = { (u64)(unsigned long)p64, (u64)(unsigned long)(p64 + n64) };
  struct vm_ctx c1500 = { (u64)(unsigned long)p1500, (u64)(unsigned long)(p1500 + n1500) };
  printf("{\"nop\": %.3f, ", measure(nop, &c64, 2, "nop"));
  printf("\"xdp_parse\": %.3f, ", measure(xdp_parse, &c64, 3, "xdp_parse"));
  printf("\"alu_loop\": %.3f, ", measure(alu_loop, &c64, 2033003504ull, "alu_loop"));
  printf("\"checksum\": %.3f, ", measure(checksum, &c1500, 19868, "checksum"));
  printf("\"map_hash\": %.3f}\n", measure(map_hash, &c64, 2, "map_hash"));
  return 0;
}
