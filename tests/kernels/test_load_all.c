/*
 * Every committed PTX file must load with zero rejections: parsed by the front end and lowered by
 * the executor (ptx_program_new), exactly what cuModuleLoadData does before it can launch. Each
 * argument is a PTX file; every rejection is printed with its file, line and reason.
 */
#include "check.h"
#include "exec.h"
#include "ptx.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

static char *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    char *buf = NULL;
    if (fseek(f, 0, SEEK_END) == 0) {
        long n = ftell(f);
        if (n >= 0 && fseek(f, 0, SEEK_SET) == 0 && (buf = malloc((size_t)n + 1)) != NULL) {
            *len = fread(buf, 1, (size_t)n, f);
            buf[*len] = '\0';
        }
    }
    fclose(f);
    return buf;
}

int main(int argc, char **argv)
{
    int loaded = 0;
    REQUIRE(argc > 1, "usage: %s FILE.ptx...", argv[0]);
    for (int i = 1; i < argc; i++) {
        size_t len = 0;
        char *src = read_file(argv[i], &len);
        CHECK(src != NULL, "%s: cannot read", argv[i]);
        if (!src)
            continue;
        struct ptx_module *mod = NULL;
        struct ptx_program *prog = NULL;
        struct ptx_error err = {0};
        int rc = ptx_parse(src, len, &mod, &err);
        CHECK(rc == 0, "%s:%u:%u: parse: %s", argv[i], err.line, err.col, err.msg);
        if (rc == 0) {
            rc = ptx_program_new(mod, &prog, &err);
            CHECK(rc == 0, "%s:%u: lowering: %s", argv[i], err.line, err.msg);
            loaded += rc == 0;
        }
        ptx_program_free(prog);
        ptx_module_free(mod);
        free(src);
    }
    printf("%d of %d PTX files load with zero rejections\n", loaded, argc - 1);
    return check_done("ptx-load-all");
}
