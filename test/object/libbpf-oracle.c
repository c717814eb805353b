/* The reference for test/object: what libbpf (libbpf-dev, the system's libbpf.so) makes of an
 * eBPF object. Prints JSON: each program's section, type, expected attach type and instruction
 * count as libbpf opens it; each map's parameters; with "load", each program's linked
 * instruction count and the kernel's func_info (BTF FUNC ids in linked order) and line-info
 * count. Maps pinned by name go under the optional third argument (a bpffs directory), not
 * libbpf's default /sys/fs/bpf. Built by the tests with the system compiler; not part of
 * the package. Usage: libbpf-oracle OBJ [load [PIN_ROOT]] | libbpf-oracle --sections NAME... */
#include <stdio.h>
#include <string.h>
#include <stdlib.h>
#include <bpf/libbpf.h>
#include <bpf/bpf.h>
#include <linux/bpf.h>

static int quiet(enum libbpf_print_level level, const char *fmt, va_list args)
{
	if (getenv("ORACLE_DEBUG"))
		return vfprintf(stderr, fmt, args);
	return 0;
}

static void str(const char *s)
{
	putchar('"');
	for (; s && *s; s++) {
		if (*s == '"' || *s == '\\')
			putchar('\\');
		putchar(*s);
	}
	putchar('"');
}

static void map_json(const struct bpf_map *m)
{
	const struct bpf_map *inner = bpf_map__inner_map((struct bpf_map *)m);

	printf("{\"name\":");
	str(bpf_map__name(m));
	printf(",\"type\":%d,\"key\":%u,\"value\":%u,\"max\":%u,\"flags\":%u,\"numa\":%u,\"extra\":%llu,\"pinned\":%s,\"inner\":",
	       bpf_map__type(m), bpf_map__key_size(m), bpf_map__value_size(m), bpf_map__max_entries(m),
	       bpf_map__map_flags(m), bpf_map__numa_node(m), (unsigned long long)bpf_map__map_extra(m),
	       bpf_map__pin_path(m) ? "true" : "false");
	if (inner)
		map_json(inner);
	else
		printf("null");
	printf("}");
}

int main(int argc, char **argv)
{
	struct bpf_object *obj;
	struct bpf_program *p;
	struct bpf_map *m;
	int load = argc > 2 && strcmp(argv[2], "load") == 0, first = 1, err = 0;

	LIBBPF_OPTS(bpf_object_open_opts, opts, .pin_root_path = argc > 3 ? argv[3] : NULL);

	libbpf_set_print(quiet);
	if (argc > 1 && strcmp(argv[1], "--sections") == 0) {
		/* libbpf_prog_type_by_name for each name: [type, attach] or null when unknown */
		printf("{");
		for (int i = 2; i < argc; i++) {
			enum bpf_prog_type type;
			enum bpf_attach_type attach;

			printf("%s", i > 2 ? "," : "");
			str(argv[i]);
			if (libbpf_prog_type_by_name(argv[i], &type, &attach))
				printf(":null");
			else
				printf(":[%d,%d]", type, attach);
		}
		printf("}\n");
		return 0;
	}
	obj = bpf_object__open_file(argv[1], &opts);
	if (!obj) {
		printf("{\"error\":\"open\"}\n");
		return 0;
	}
	printf("{\"programs\":[");
	bpf_object__for_each_program(p, obj) {
		printf("%s{\"name\":", first ? "" : ",");
		first = 0;
		str(bpf_program__name(p));
		printf(",\"section\":");
		str(bpf_program__section_name(p));
		printf(",\"type\":%d,\"attach\":%d,\"autoload\":%s,\"insns\":%zu}", bpf_program__type(p),
		       bpf_program__expected_attach_type(p), bpf_program__autoload(p) ? "true" : "false",
		       bpf_program__insn_cnt(p));
	}
	printf("],\"maps\":[");
	first = 1;
	bpf_object__for_each_map(m, obj) {
		printf("%s", first ? "" : ",");
		first = 0;
		map_json(m);
	}
	printf("]");
	if (load) {
		err = bpf_object__load(obj);
		printf(",\"loaded\":%s,\"linked\":[", err ? "false" : "true");
		first = 1;
		if (!err) bpf_object__for_each_program(p, obj) {
			struct bpf_prog_info info = {};
			__u32 len = sizeof(info), funcs[64] = {}, i;
			struct bpf_func_info fi[64] = {};

			if (!bpf_program__autoload(p))
				continue;
			if (bpf_obj_get_info_by_fd(bpf_program__fd(p), &info, &len))
				continue;
			if (info.nr_func_info > 64)
				info.nr_func_info = 64;
			{
				__u32 n = info.nr_func_info, nl = info.nr_line_info;

				memset(&info, 0, sizeof(info));
				info.nr_func_info = n;
				info.func_info_rec_size = sizeof(struct bpf_func_info);
				info.func_info = (unsigned long)fi;
				len = sizeof(info);
				bpf_obj_get_info_by_fd(bpf_program__fd(p), &info, &len);
				for (i = 0; i < n; i++)
					funcs[i] = fi[i].type_id;
				printf("%s{\"name\":", first ? "" : ",");
				first = 0;
				str(bpf_program__name(p));
				printf(",\"insns\":%zu,\"lineInfo\":%u,\"funcTypes\":[", bpf_program__insn_cnt(p), nl);
				for (i = 0; i < n; i++)
					printf("%s%u", i ? "," : "", funcs[i]);
				printf("]}");
			}
		}
		printf("]");
	}
	printf("}\n");
	bpf_object__close(obj);
	return 0;
}
