// Every BTF kind and every CO-RE relocation kind in one object, for the BTF parser,
// serializer, .BTF.ext and raw-dump tests (compiled by the tests with clang-19 -g -O2).
typedef unsigned int u32;
typedef unsigned long long u64;
typedef _Bool bool;

#define SEC(name) __attribute__((section(name), used))
#define __ksym __attribute__((section(".ksyms")))
#define __kconfig __attribute__((section(".kconfig")))
#define __tag(x) __attribute__((btf_decl_tag(x)))
#define __user __attribute__((btf_type_tag("user")))

enum signed_e { NEG = -5, ZERO = 0, POS = 7 };
enum unsigned_e { A = 1, B = 0xffffffffu };
enum big_e { SMALL = 1, BIG = 0x123456789abcULL, TOP = 0xffffffffffffffffULL };
enum sbig_e { SNEG = -2LL, SBIG = 0x100000000LL };

struct fwd_only;
union shape { int i; float f; double d; char bytes[8]; };

struct __tag("struct_tag") rec {
  int a __tag("member_tag");
  unsigned int flag : 1;
  unsigned int mode : 3;
  signed int delta : 12;
  union { long l; short s[4]; };
  struct { char c; } inner;
  const volatile u64 cv;
  int *restrict rp;
  int __user *up;
  struct fwd_only *opaque;
  enum signed_e se;
  enum unsigned_e ue;
  enum big_e be;
  enum sbig_e sbe;
  union shape shape;
  bool yes;
  long double ld;
  int (*fp)(int, const char *);
  unsigned char tail[0];
} __attribute__((preserve_access_index));

typedef int (*vararg_fn)(int, ...);

int global_counter = 1;
static volatile int static_counter;
const volatile u32 rodata_knob = 3;
struct rec zeroed;
vararg_fn vfn;
extern int LINUX_KERNEL_VERSION __kconfig;
extern int bpf_kfunc_example(int x) __ksym;
char _license[] SEC("license") = "GPL";

static __attribute__((noinline)) int helper(struct rec *r __tag("param_tag"))
{
  return r->a + r->mode;
}

SEC("xdp") int core_all(struct rec *r)
{
  int sum = 0;
  sum += __builtin_preserve_field_info(r->a, 0);          /* FIELD_BYTE_OFFSET */
  sum += __builtin_preserve_field_info(r->inner, 1);      /* FIELD_BYTE_SIZE */
  sum += __builtin_preserve_field_info(r->cv, 2);         /* FIELD_EXISTS */
  sum += __builtin_preserve_field_info(r->delta, 3);      /* FIELD_SIGNED */
  sum += __builtin_preserve_field_info(r->mode, 4);       /* FIELD_LSHIFT_U64 */
  sum += __builtin_preserve_field_info(r->mode, 5);       /* FIELD_RSHIFT_U64 */
  sum += __builtin_btf_type_id(*r, 0);                    /* TYPE_ID_LOCAL */
  sum += __builtin_btf_type_id(*r, 1);                    /* TYPE_ID_TARGET */
  sum += __builtin_preserve_type_info(*r, 0);             /* TYPE_EXISTS */
  sum += __builtin_preserve_type_info(*r, 1);             /* TYPE_SIZE */
  sum += __builtin_preserve_enum_value(*(enum signed_e *)NEG, 0); /* ENUMVAL_EXISTS */
  sum += __builtin_preserve_enum_value(*(enum signed_e *)POS, 1); /* ENUMVAL_VALUE */
  sum += __builtin_preserve_type_info(*r, 2);             /* TYPE_MATCHES */
  sum += r->shape.i + global_counter + static_counter + rodata_knob + LINUX_KERNEL_VERSION;
  sum += bpf_kfunc_example(helper(r));
  return sum;
}

SEC("tc") int second(struct rec *r)
{
  return r->se == NEG ? (int)zeroed.ue : r->yes + (vfn != 0);
}
