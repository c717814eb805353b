/* The per-program reference for test/kernel/collection.test.ts: which programs of an object
 * libbpf (the system's libbpf.so) loads into this kernel. bpftool prog loadall stops at the first
 * program that fails; this loads the object once per program with only that program autoloaded,
 * and prints JSON: [{"name":…,"type":T,"loaded":true|false,"errno":N}] (T: the program type libbpf
 * gives the section, 0 when it does not know the section) — or {"error":N} when libbpf cannot
 * open the object at all. Maps pinned by name go under PIN_ROOT (a scratch bpffs directory).
 * Built by the tests with the system compiler; not part of the package.
 * Usage: collection-oracle OBJ PIN_ROOT */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <bpf/libbpf.h>

static int quiet(enum libbpf_print_level level, const char *fmt, va_list args)
{
	return 0;
}

int main(int argc, char **argv)
{
	LIBBPF_OPTS(bpf_object_open_opts, opts, .pin_root_path = argc > 2 ? argv[2] : NULL);
	struct bpf_object *obj;
	struct bpf_program *p, *q;
	int first = 1;

	if (argc < 3)
		return 2;
	libbpf_set_print(quiet);
	obj = bpf_object__open_file(argv[1], &opts);
	if (!obj) {
		printf("{\"error\":%d}\n", errno);
		return 0;
	}
	printf("[");
	bpf_object__for_each_program(p, obj) {
		struct bpf_object *one;
		const char *name = bpf_program__name(p);
		int err;

		if (!bpf_program__autoload(p))
			continue;
		one = bpf_object__open_file(argv[1], &opts);
		if (!one)
			return 1;
		bpf_object__for_each_program(q, one)
			bpf_program__set_autoload(q, strcmp(bpf_program__name(q), name) == 0);
		err = bpf_object__load(one);
		printf("%s{\"name\":\"%s\",\"type\":%d,\"loaded\":%s,\"errno\":%d}", first ? "" : ",", name,
		       bpf_program__type(p), err ? "false" : "true", err < 0 ? -err : 0);
		first = 0;
		bpf_object__close(one);
	}
	printf("]\n");
	bpf_object__close(obj);
	return 0;
}
