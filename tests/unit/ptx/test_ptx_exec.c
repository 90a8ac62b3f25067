/*
 * Unit tests of the PTX executor: small hand-written kernels and the committed nvcc kernels run
 * through ptx_exec_run with host buffers as regions, checked lane by lane against C computed here;
 * every committed module lowers without a rejection; faults (bad addresses, trap, assert, a
 * barrier that can never complete) end the launch with the right fault instead of a hang.
 */
#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "exec.h"
#include "ptx.h"

#ifndef PTX_KERNEL_DIR
#error "PTX_KERNEL_DIR must name tests/kernels"
#endif

/* ---- harness ---- */

#define MAXBUF 8

struct rig {
    struct ptx_module *mod;
    struct ptx_program *prog;
    struct ptx_region regions[MAXBUF];
    size_t nregions;
    uint64_t *var_addr;
    uint8_t *var_mem[64];
};

static char *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = malloc((size_t)n + 1);
    if (buf && fread(buf, 1, (size_t)n, f) != (size_t)n) {
        free(buf);
        buf = NULL;
    }
    fclose(f);
    if (buf) {
        buf[n] = 0;
        *len = (size_t)n;
    }
    return buf;
}

/* Device addresses the tests hand out: not host pointers, so translation is exercised. */
#define DEV_BASE 0x0000700000000000ull

static void rig_open(struct rig *r, const char *src, size_t len)
{
    struct ptx_error err;
    memset(r, 0, sizeof(*r));
    int rc = ptx_parse(src, len, &r->mod, &err);
    if (rc)
        fail_msg("parse: %u:%u: %s", err.line, err.col, err.msg);
    rc = ptx_program_new(r->mod, &r->prog, &err);
    if (rc)
        fail_msg("program: %s", err.msg);
    r->var_addr = calloc(r->mod->nvars + 1, sizeof(uint64_t));
    /* Module .global/.const variables get their own regions at the top of the list. */
    for (uint32_t i = 0; i < r->mod->nvars && i < 64; i++) {
        const struct ptx_var *v = &r->mod->vars[i];
        if (v->space != PTX_SPACE_GLOBAL && v->space != PTX_SPACE_CONST)
            continue;
        r->var_mem[i] = calloc(1, v->size + 16);
        if (v->init)
            memcpy(r->var_mem[i], v->init, v->size);
        r->var_addr[i] = DEV_BASE + 0x80000000000ull + (uint64_t)i * 0x100000;
    }
    /* As the loader does: addresses of variables named in initialisers, once all are placed. */
    for (uint32_t i = 0; i < r->mod->nvars && i < 64; i++)
        if (r->var_mem[i])
            ptx_var_relocate(&r->mod->vars[i], r->var_addr, r->var_mem[i]);
}

static void rig_open_text(struct rig *r, const char *src)
{
    rig_open(r, src, strlen(src));
}

static void rig_open_file(struct rig *r, const char *rel)
{
    char path[512];
    size_t len = 0;
    snprintf(path, sizeof(path), "%s/%s", PTX_KERNEL_DIR, rel);
    char *src = read_file(path, &len);
    assert_non_null(src);
    rig_open(r, src, len);
    /* The module keeps pointers into its own arena, not into src. */
    free(src);
}

static void rig_close(struct rig *r)
{
    ptx_program_free(r->prog);
    ptx_module_free(r->mod);
    for (int i = 0; i < 64; i++)
        free(r->var_mem[i]);
    free(r->var_addr);
}

/* Adds a buffer; returns its device address. */
static uint64_t rig_buf(struct rig *r, void *host, size_t size)
{
    uint64_t base = DEV_BASE + (uint64_t)r->nregions * 0x10000000ull;
    r->regions[r->nregions++] = (struct ptx_region){base, size, host};
    return base;
}

static int cmp_region(const void *a, const void *b)
{
    const struct ptx_region *x = a, *y = b;
    return x->base < y->base ? -1 : x->base > y->base;
}

struct run_opts {
    uint32_t grid[3], block[3];
    uint32_t dyn;
    int cooperative;
    unsigned threads;
    int printf_fd;
};

/* Runs kernel name with parameters given as 64-bit values (each copied at its parameter's
 * offset and size). */
static void rig_run(struct rig *r, const char *name, const struct run_opts *o, const uint64_t *args,
                    struct ptx_result *res)
{
    const struct ptx_function *fn = ptx_module_function(r->mod, name);
    if (!fn)
        fail_msg("no kernel %s", name);
    uint8_t params[4096] = {0};
    for (uint32_t i = 0; i < fn->nparams; i++)
        memcpy(params + fn->params[i].offset, &args[i],
               fn->params[i].size < 8 ? fn->params[i].size : 8);
    struct ptx_region regs[MAXBUF + 64];
    size_t n = 0;
    for (size_t i = 0; i < r->nregions; i++)
        regs[n++] = r->regions[i];
    for (uint32_t i = 0; i < r->mod->nvars && i < 64; i++)
        if (r->var_mem[i])
            regs[n++] = (struct ptx_region){r->var_addr[i], r->mod->vars[i].size, r->var_mem[i]};
    qsort(regs, n, sizeof(regs[0]), cmp_region);
    struct ptx_launch L = {
        .prog = r->prog,
        .fn = fn,
        .grid = {o->grid[0] ? o->grid[0] : 1, o->grid[1] ? o->grid[1] : 1,
                 o->grid[2] ? o->grid[2] : 1},
        .block = {o->block[0] ? o->block[0] : 1, o->block[1] ? o->block[1] : 1,
                  o->block[2] ? o->block[2] : 1},
        .dynamic_shared_bytes = o->dyn,
        .params = params,
        .regions = regs,
        .nregions = n,
        .var_addr = r->var_addr,
        .cooperative = o->cooperative,
        .sm_count = 4,
        .grid_id = 1,
        .host_threads = o->threads ? o->threads : 2,
        .printf_fd = o->printf_fd ? o->printf_fd : 1,
    };
    assert_int_equal(ptx_exec_run(&L, res), 0);
}

#define HDR ".version 8.0\n.target sm_80\n.address_size 64\n"

/* ---- every committed kernel lowers ---- */

static void test_all_committed_kernels_lower(void **state)
{
    (void)state;
    static const char *files[] = {
        "vector_add.sm_80.ptx",     "ptx/atomics.sm_80.ptx", "ptx/atomics.sm_90.ptx",
        "ptx/devfunc.sm_80.ptx",    "ptx/devfunc.sm_90.ptx", "ptx/halfmath.sm_80.ptx",
        "ptx/halfmath.sm_90.ptx",   "ptx/intmath.sm_80.ptx", "ptx/intmath.sm_90.ptx",
        "ptx/misc.sm_80.ptx",       "ptx/misc.sm_90.ptx",    "ptx/reduce.sm_80.ptx",
        "ptx/reduce.sm_90.ptx",     "ptx/scan.sm_80.ptx",    "ptx/scan.sm_90.ptx",
        "ptx/sgemm.sm_80.ptx",      "ptx/sgemm.sm_90.ptx",   "ptx/sync.sm_80.ptx",
        "ptx/sync.sm_90.ptx",
    };
    for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
        struct rig r;
        rig_open_file(&r, files[i]);
        for (uint32_t k = 0; k < r.mod->nfuncs; k++) {
            struct ptx_kernel_info info;
            if (r.mod->funcs[k].is_entry)
                assert_int_equal(ptx_program_kernel_info(r.prog, &r.mod->funcs[k], &info), 0);
        }
        rig_close(&r);
    }
}

static void test_unsupported_rejected_at_load(void **state)
{
    (void)state;
    static const char src[] = HDR
        ".visible .entry k(.param .u64 p)\n{\n.reg .b32 %r<4>;\n"
        "fns.b32 %r1, %r2, %r3, 1;\nret;\n}\n";
    struct ptx_module *mod;
    struct ptx_program *prog = NULL;
    struct ptx_error err;
    assert_int_equal(ptx_parse(src, strlen(src), &mod, &err), 0);
    assert_int_equal(ptx_program_new(mod, &prog, &err), -EINVAL);
    assert_non_null(strstr(err.msg, "fns"));
    assert_int_equal(err.line, 7);
    ptx_module_free(mod);
}

/* ---- arithmetic ---- */

static const char vadd_src[] = HDR
    ".visible .entry vadd(.param .u64 a, .param .u64 b, .param .u64 c, .param .u32 n)\n{\n"
    ".reg .pred %p<2>;\n.reg .b32 %r<8>;\n.reg .f32 %f<4>;\n.reg .b64 %rd<12>;\n"
    "ld.param.u64 %rd1, [a];\nld.param.u64 %rd2, [b];\nld.param.u64 %rd3, [c];\n"
    "ld.param.u32 %r1, [n];\n"
    "mov.u32 %r2, %ctaid.x;\nmov.u32 %r3, %ntid.x;\nmov.u32 %r4, %tid.x;\n"
    "mad.lo.s32 %r5, %r2, %r3, %r4;\n"
    "setp.ge.s32 %p1, %r5, %r1;\n@%p1 bra $L_end;\n"
    "cvta.to.global.u64 %rd4, %rd1;\ncvta.to.global.u64 %rd5, %rd2;\n"
    "cvta.to.global.u64 %rd6, %rd3;\n"
    "mul.wide.s32 %rd7, %r5, 4;\nadd.s64 %rd8, %rd4, %rd7;\nadd.s64 %rd9, %rd5, %rd7;\n"
    "add.s64 %rd10, %rd6, %rd7;\n"
    "ld.global.f32 %f1, [%rd8];\nld.global.f32 %f2, [%rd9];\nadd.f32 %f3, %f1, %f2;\n"
    "st.global.f32 [%rd10], %f3;\n"
    "$L_end:\nret;\n}\n";

static void test_vector_add(void **state)
{
    (void)state;
    enum { N = 1000 };
    float a[N], b[N], c[N];
    for (int i = 0; i < N; i++) {
        a[i] = (float)i * 0.5f;
        b[i] = (float)(N - i);
        c[i] = -1.0f;
    }
    struct rig r;
    rig_open_text(&r, vadd_src);
    uint64_t args[] = {rig_buf(&r, a, sizeof(a)), rig_buf(&r, b, sizeof(b)),
                       rig_buf(&r, c, sizeof(c)), N};
    struct run_opts o = {.grid = {8}, .block = {128}, .threads = 3};
    struct ptx_result res;
    rig_run(&r, "vadd", &o, args, &res);
    assert_int_equal(res.fault, PTX_FAULT_NONE);
    for (int i = 0; i < N; i++)
        assert_true(c[i] == a[i] + b[i]);
    assert_true(res.lane_insns > (uint64_t)N * 10);
    rig_close(&r);
}

/* Integer corner cases, one result per lane: out[lane*K + k]. */
static const char intops_src[] = HDR
    ".visible .entry intops(.param .u64 out)\n{\n"
    ".reg .pred %p<4>;\n.reg .b16 %rs<4>;\n.reg .b32 %r<40>;\n.reg .b64 %rd<8>;\n.reg .f32 %f<4>;\n"
    "ld.param.u64 %rd1, [out];\nmov.u32 %r1, %tid.x;\nmul.wide.u32 %rd2, %r1, 64;\n"
    "add.s64 %rd3, %rd1, %rd2;\n"
    /* 0: shl by lane+20 (clamps at >= 32) */
    "add.s32 %r2, %r1, 20;\nmov.u32 %r3, 1;\nshl.b32 %r4, %r3, %r2;\nst.global.u32 [%rd3], %r4;\n"
    /* 1: shr.s32 of -256 by lane+20 */
    "mov.u32 %r5, -256;\nshr.s32 %r6, %r5, %r2;\nst.global.u32 [%rd3+4], %r6;\n"
    /* 2: div.s32 INT_MIN / (lane - 1)  (lane 0: -1, lane 1: 0) */
    "add.s32 %r7, %r1, -1;\nmov.u32 %r8, -2147483648;\ndiv.s32 %r9, %r8, %r7;\n"
    "st.global.u32 [%rd3+8], %r9;\n"
    /* 3: rem.s32 INT_MIN % (lane - 1) */
    "rem.s32 %r10, %r8, %r7;\nst.global.u32 [%rd3+12], %r10;\n"
    /* 4: cvt.rzi.s32.f32 of 1e10 * (lane - 2), lane 3 is NaN */
    "cvt.rn.f32.s32 %f1, %r7;\nadd.f32 %f1, %f1, 0fBF800000;\nmul.f32 %f2, %f1, 0f501502F9;\n"
    "setp.eq.s32 %p1, %r1, 3;\nselp.f32 %f2, 0f7FC00000, %f2, %p1;\n"
    "cvt.rzi.s32.f32 %r11, %f2;\nst.global.u32 [%rd3+16], %r11;\n"
    /* 5: bfe.s32 of 0xf0 pos lane len 4 */
    "mov.u32 %r12, 240;\nbfe.s32 %r13, %r12, %r1, 4;\nst.global.u32 [%rd3+20], %r13;\n"
    /* 6: prmt.b32 0x33221100, 0x77665544, lane*0x1111 + 0x0123 (default mode) */
    "mov.u32 %r14, 857870592;\nmov.u32 %r15, 2003195204;\nmul.lo.s32 %r16, %r1, 4369;\n"
    "add.s32 %r16, %r16, 291;\nprmt.b32 %r17, %r14, %r15, %r16;\nst.global.u32 [%rd3+24], %r17;\n"
    /* 7: shf.l.clamp of 0x80000001:0x12345678 by lane+20 */
    "mov.u32 %r18, 305419896;\nmov.u32 %r19, -2147483647;\nshf.l.clamp.b32 %r20, %r18, %r19, %r2;\n"
    "st.global.u32 [%rd3+28], %r20;\n"
    /* 8: mul.hi.s32 of -lane*100000 and 300000 */
    "mul.lo.s32 %r21, %r1, -100000;\nmul.hi.s32 %r22, %r21, 300000;\nst.global.u32 [%rd3+32], %r22;\n"
    /* 9: ld.s8 sign extension of byte 0x80+lane from out buffer start (written by lane 0 below)*/
    "cvt.u16.u32 %rs1, %r1;\nadd.s16 %rs2, %rs1, 128;\ncvt.s32.s8 %r23, %r1;\n"
    "cvt.s32.s16 %r24, %rs2;\nst.global.u32 [%rd3+36], %r24;\n"
    /* 10: bfind.u32 and bfind.shiftamt.u32 of lane, packed */
    "bfind.u32 %r25, %r1;\nbfind.shiftamt.u32 %r26, %r1;\nxor.b32 %r27, %r25, %r26;\n"
    "st.global.u32 [%rd3+40], %r27;\n"
    /* 11: add.cc/addc chain: (0xffffffff + lane) + carry into hi */
    "mov.u32 %r28, -1;\nadd.cc.u32 %r29, %r28, %r1;\naddc.u32 %r30, 0, 0;\n"
    "st.global.u32 [%rd3+44], %r30;\n"
    /* 12: cvt.sat.u8.s32 of lane*20-100 */
    "mul.lo.s32 %r31, %r1, 20;\nadd.s32 %r31, %r31, -100;\ncvt.sat.u8.s32 %r32, %r31;\n"
    "st.global.u32 [%rd3+48], %r32;\n"
    /* 13: lop3 (a & b) ^ c = 0x6A */
    "lop3.b32 %r33, %r1, 6, 9, 0x6a;\nst.global.u32 [%rd3+52], %r33;\n"
    "ret;\n}\n";

static void test_integer_semantics(void **state)
{
    (void)state;
    uint32_t out[32 * 16];
    memset(out, 0xaa, sizeof(out));
    struct rig r;
    rig_open_text(&r, intops_src);
    uint64_t args[] = {rig_buf(&r, out, sizeof(out))};
    struct run_opts o = {.block = {32}};
    struct ptx_result res;
    rig_run(&r, "intops", &o, args, &res);
    assert_int_equal(res.fault, PTX_FAULT_NONE);
    for (int l = 0; l < 32; l++) {
        const uint32_t *v = out + l * 16;
        uint32_t sh = (uint32_t)l + 20;
        assert_int_equal(v[0], sh >= 32 ? 0 : 1u << sh);
        assert_int_equal(v[1], (uint32_t)(-256 >> (sh >= 32 ? 31 : sh)));
        int32_t d = l - 1;
        uint32_t q = d == 0 ? 0xffffffffu : d == -1 ? 0x80000000u : (uint32_t)(INT32_MIN / d);
        uint32_t rm = d == 0 ? 0x80000000u : d == -1 ? 0 : (uint32_t)(INT32_MIN % d);
        assert_int_equal(v[2], q);
        assert_int_equal(v[3], rm);
        double f = (double)((float)(l - 2) * 1e10f);
        int32_t c = l == 3 ? 0 : f >= 2147483647.0 ? INT32_MAX : f <= -2147483648.0 ? INT32_MIN : (int32_t)f;
        assert_int_equal(v[4], (uint32_t)c);
        /* bfe.s32 240, pos l, len 4 */
        uint32_t e = 0;
        {
            unsigned pos = (unsigned)l, len = 4, top = pos + len - 1 > 31 ? 31 : pos + len - 1;
            uint32_t sb = (240u >> top) & 1;
            for (unsigned i = 0; i < 32; i++) {
                uint32_t bit = (i < len && pos + i <= 31) ? (240u >> (pos + i)) & 1 : sb;
                e |= bit << i;
            }
        }
        assert_int_equal(v[5], e);
        uint64_t bytes = 0x7766554433221100ull;
        uint32_t sel = (uint32_t)l * 4369 + 291, p = 0;
        for (int i = 0; i < 4; i++) {
            unsigned s = (sel >> (4 * i)) & 0xf;
            uint8_t b = (uint8_t)(bytes >> (8 * (s & 7)));
            if (s & 8)
                b = (b & 0x80) ? 0xff : 0;
            p |= (uint32_t)b << (8 * i);
        }
        assert_int_equal(v[6], p);
        unsigned n = sh > 32 ? 32 : sh;
        uint64_t pair = ((uint64_t)0x80000001u << 32) | 0x12345678u;
        assert_int_equal(v[7], (uint32_t)((pair << n) >> 32));
        int64_t prod = (int64_t)(-l * 100000) * 300000;
        assert_int_equal(v[8], (uint32_t)(prod >> 32));
        assert_int_equal(v[9], (uint32_t)(int32_t)(int16_t)(uint16_t)(l + 128));
        uint32_t bf = l ? 31u - (uint32_t)__builtin_clz((unsigned)l) : 0xffffffffu;
        uint32_t bs = l ? 31u - bf : 0xffffffffu;
        assert_int_equal(v[10], bf ^ bs);
        assert_int_equal(v[11], l ? 1 : 0);
        int32_t sv = l * 20 - 100;
        assert_int_equal(v[12], (uint32_t)(sv < 0 ? 0 : sv > 255 ? 255 : sv));
        assert_int_equal(v[13], (uint32_t)((l & 6) ^ 9));
    }
    rig_close(&r);
}

/* ---- warp operations ---- */

static const char warp_src[] = HDR
    ".visible .entry warp(.param .u64 out)\n{\n"
    ".reg .pred %p<8>;\n.reg .b32 %r<40>;\n.reg .b64 %rd<8>;\n"
    "ld.param.u64 %rd1, [out];\nmov.u32 %r1, %tid.x;\nmul.wide.u32 %rd2, %r1, 32;\n"
    "add.s64 %rd3, %rd1, %rd2;\nmul.lo.s32 %r2, %r1, 10;\n"
    /* lanes >= 28 exit: vote/ballot see only the others */
    "setp.ge.u32 %p1, %r1, 28;\n@%p1 exit;\n"
    /* 0: shfl.down by 3, clamp 31: out-of-range lanes keep their own value, p = in range */
    "shfl.sync.down.b32 %r3|%p2, %r2, 3, 31, -1;\nselp.u32 %r4, 1000, 0, %p2;\nadd.s32 %r3, %r3, %r4;\n"
    "st.global.u32 [%rd3], %r3;\n"
    /* 1: shfl.up by 1 in segments of 8 (c = 0x1800 | 0) */
    "shfl.sync.up.b32 %r5, %r2, 1, 6144, -1;\nst.global.u32 [%rd3+4], %r5;\n"
    /* 2: shfl.idx lane 5 within segments of 8 (c = 0x1807) */
    "shfl.sync.idx.b32 %r6, %r2, 5, 6151, -1;\nst.global.u32 [%rd3+8], %r6;\n"
    /* 3: bfly xor 4 */
    "shfl.sync.bfly.b32 %r7, %r2, 4, 31, -1;\nst.global.u32 [%rd3+12], %r7;\n"
    /* 4: ballot of odd lanes; 5: vote.all of lane < 28 (true: exited lanes do not take part) */
    "and.b32 %r8, %r1, 1;\nsetp.eq.u32 %p3, %r8, 1;\nvote.sync.ballot.b32 %r9, %p3, -1;\n"
    "st.global.u32 [%rd3+16], %r9;\nsetp.lt.u32 %p4, %r1, 28;\nvote.sync.all.pred %p5, %p4, -1;\n"
    "selp.u32 %r10, 1, 0, %p5;\nst.global.u32 [%rd3+20], %r10;\n"
    /* 6: redux.add of lane; 7: activemask inside a divergent branch (even lanes) */
    "redux.sync.add.s32 %r11, %r1, -1;\nst.global.u32 [%rd3+24], %r11;\n"
    "setp.eq.u32 %p6, %r8, 0;\n@!%p6 bra $L_odd;\nactivemask.b32 %r12;\nst.global.u32 [%rd3+28], %r12;\n"
    "bra.uni $L_done;\n$L_odd:\nmov.u32 %r13, 7;\nst.global.u32 [%rd3+28], %r13;\n"
    "$L_done:\nret;\n}\n";

static void test_warp_semantics(void **state)
{
    (void)state;
    uint32_t out[32 * 8];
    memset(out, 0, sizeof(out));
    struct rig r;
    rig_open_text(&r, warp_src);
    uint64_t args[] = {rig_buf(&r, out, sizeof(out))};
    struct run_opts o = {.block = {32}};
    struct ptx_result res;
    rig_run(&r, "warp", &o, args, &res);
    assert_int_equal(res.fault, PTX_FAULT_NONE);
    for (int l = 0; l < 28; l++) {
        const uint32_t *v = out + l * 8;
        int j = l + 3;
        assert_int_equal(v[0], (uint32_t)(j <= 31 ? j * 10 + 1000 : l * 10));
        int ju = l - 1, seg = l & ~7;
        assert_int_equal(v[1], (uint32_t)(ju >= seg ? ju * 10 : l * 10));
        assert_int_equal(v[2], (uint32_t)((seg | 5) * 10));
        assert_int_equal(v[3], (uint32_t)((l ^ 4) * 10));
        assert_int_equal(v[4], 0x0aaaaaaau);
        assert_int_equal(v[5], 1);
        assert_int_equal(v[6], 27 * 28 / 2);
        assert_int_equal(v[7], (l & 1) ? 7 : 0x05555555u);
    }
    for (int l = 28; l < 32; l++)
        assert_int_equal(out[l * 8], 0);
    rig_close(&r);
}

/* bar.red.popc/and/or and named barriers with bar.arrive (producer/consumer). */
static const char bar_src[] = HDR
    ".visible .entry bars(.param .u64 out)\n{\n"
    ".reg .pred %p<8>;\n.reg .b32 %r<20>;\n.reg .b64 %rd<8>;\n"
    ".shared .align 4 .u32 box;\n"
    "ld.param.u64 %rd1, [out];\nmov.u32 %r1, %tid.x;\nmul.wide.u32 %rd2, %r1, 16;\n"
    "add.s64 %rd3, %rd1, %rd2;\n"
    /* threads >= 100 exit before the barriers */
    "setp.ge.u32 %p1, %r1, 100;\n@%p1 exit;\n"
    "rem.u32 %r2, %r1, 3;\nsetp.eq.u32 %p2, %r2, 0;\n"
    "bar.red.popc.u32 %r3, 0, %p2;\nst.global.u32 [%rd3], %r3;\n"
    "bar.red.and.pred %p3, 1, %p2;\nselp.u32 %r4, 1, 0, %p3;\nst.global.u32 [%rd3+4], %r4;\n"
    "bar.red.or.pred %p4, 2, %p2;\nselp.u32 %r5, 1, 0, %p4;\nst.global.u32 [%rd3+8], %r5;\n"
    /* warp 0 produces after warp 1..3 wait on barrier 3 (count 128 would need exited threads:
       use 64 = warp 0 arrives, warp 1 syncs) */
    "shr.u32 %r6, %r1, 5;\nsetp.eq.u32 %p5, %r6, 0;\nsetp.eq.u32 %p6, %r6, 1;\n"
    "@!%p5 bra $L_cons;\nmov.u32 %r7, 4242;\nst.shared.u32 [box], %r7;\nbar.arrive 3, 64;\n"
    "bra.uni $L_end;\n$L_cons:\n@!%p6 bra $L_end;\nbar.sync 3, 64;\nld.shared.u32 %r8, [box];\n"
    "st.global.u32 [%rd3+12], %r8;\n$L_end:\nret;\n}\n";

static void test_barrier_reductions(void **state)
{
    (void)state;
    uint32_t out[128 * 4];
    memset(out, 0, sizeof(out));
    struct rig r;
    rig_open_text(&r, bar_src);
    uint64_t args[] = {rig_buf(&r, out, sizeof(out))};
    struct run_opts o = {.block = {128}};
    struct ptx_result res;
    rig_run(&r, "bars", &o, args, &res);
    if (res.fault)
        fail_msg("fault %d: %s", res.fault, res.msg);
    for (int t = 0; t < 100; t++) {
        assert_int_equal(out[t * 4 + 0], 34); /* multiples of 3 in 0..99 */
        assert_int_equal(out[t * 4 + 1], 0);
        assert_int_equal(out[t * 4 + 2], 1);
        assert_int_equal(out[t * 4 + 3], (t >= 32 && t < 64) ? 4242u : 0u);
    }
    rig_close(&r);
}

/* ---- committed nvcc kernels ---- */

static void test_sgemm_tiled(void **state)
{
    (void)state;
    enum { M = 40, N = 36, K = 50 };
    float *A = malloc(sizeof(float) * M * K), *B = malloc(sizeof(float) * K * N);
    float *C = malloc(sizeof(float) * M * N), *ref = malloc(sizeof(float) * M * N);
    for (int i = 0; i < M * K; i++)
        A[i] = (float)((i * 7) % 13) - 6.0f;
    for (int i = 0; i < K * N; i++)
        B[i] = (float)((i * 5) % 11) * 0.25f;
    for (int i = 0; i < M * N; i++)
        C[i] = ref[i] = (float)(i % 3);
    float alpha = 1.5f, beta = -0.5f;
    for (int i = 0; i < M; i++)
        for (int j = 0; j < N; j++) {
            float acc = 0;
            for (int k = 0; k < K; k++)
                acc += A[i * K + k] * B[k * N + j];
            ref[i * N + j] = alpha * acc + beta * ref[i * N + j];
        }
    struct rig r;
    rig_open_file(&r, "ptx/sgemm.sm_80.ptx");
    uint32_t ab, bb;
    memcpy(&ab, &alpha, 4);
    memcpy(&bb, &beta, 4);
    uint64_t args[] = {rig_buf(&r, A, sizeof(float) * M * K), rig_buf(&r, B, sizeof(float) * K * N),
                       rig_buf(&r, C, sizeof(float) * M * N), M, N, K, ab, bb};
    struct run_opts o = {.grid = {(N + 15) / 16, (M + 15) / 16}, .block = {16, 16}, .threads = 2};
    struct ptx_result res;
    rig_run(&r, "_Z5sgemmPKfS0_Pfiiiff", &o, args, &res);
    if (res.fault)
        fail_msg("fault %d: %s", res.fault, res.msg);
    for (int i = 0; i < M * N; i++)
        assert_true(fabsf(C[i] - ref[i]) <= 1e-3f * (1.0f + fabsf(ref[i])));
    rig_close(&r);
    free(A);
    free(B);
    free(C);
    free(ref);
}

static void test_reduce_shfl_atomics(void **state)
{
    (void)state;
    enum { N = 5000 };
    int *in = malloc(sizeof(int) * N);
    int out = 0;
    long long ref = 0;
    for (int i = 0; i < N; i++) {
        in[i] = (i * 37) % 101 - 50;
        ref += in[i];
    }
    struct rig r;
    rig_open_file(&r, "ptx/reduce.sm_80.ptx");
    uint64_t args[] = {rig_buf(&r, in, sizeof(int) * N), rig_buf(&r, &out, sizeof(out)), N};
    struct run_opts o = {.grid = {7}, .block = {96}, .threads = 3};
    struct ptx_result res;
    rig_run(&r, "_Z11reduce_shflPKiPii", &o, args, &res);
    if (res.fault)
        fail_msg("fault %d: %s", res.fault, res.msg);
    assert_int_equal(out, (int)ref);
    rig_close(&r);
    free(in);
}

static int fib(int n)
{
    return n < 2 ? n : fib(n - 1) + fib(n - 2);
}

static void test_device_functions_recursion_printf(void **state)
{
    (void)state;
    enum { N = 200 };
    float out[N];
    struct rig r;
    rig_open_file(&r, "ptx/devfunc.sm_80.ptx");
    char tmpl[] = "/tmp/gpool-exec-printf-XXXXXX";
    int fd = mkstemp(tmpl);
    assert_true(fd >= 0);
    unlink(tmpl);
    uint64_t args[] = {rig_buf(&r, out, sizeof(out)), N};
    struct run_opts o = {.grid = {2}, .block = {128}, .dyn = 128 * 4, .printf_fd = fd};
    struct ptx_result res;
    rig_run(&r, "_Z9use_funcsPfi", &o, args, &res);
    if (res.fault)
        fail_msg("fault %d: %s", res.fault, res.msg);
    static const int table[8] = {1, 2, 3, 5, 8, 13, 21, 34};
    for (int i = 0; i < N; i++) {
        int b = i / 128, t = i % 128;
        int j = b * 128 + (t + 1) % 128;
        float x = (float)j;
        float poly = ((0.125f * x + 0.25f) * x + 0.5f) * x + 1.0f;
        float want = poly + (float)table[i & 7] + (float)fib(i & 7);
        assert_true(fabsf(out[i] - want) <= 1e-4f * fabsf(want));
    }
    char buf[128] = {0};
    assert_true(pread(fd, buf, sizeof(buf) - 1, 0) > 0);
    assert_string_equal(buf, "counter 8 lane\n");
    close(fd);
    rig_close(&r);
}

static void test_cooperative_grid_sync(void **state)
{
    (void)state;
    enum { N = 3000 };
    int *data = malloc(sizeof(int) * N), *ref = malloc(sizeof(int) * N);
    for (int i = 0; i < N; i++)
        data[i] = ref[i] = i % 17;
    for (int i = 0; i < N; i++)
        ref[i] += 1;
    int *tmp = malloc(sizeof(int) * N);
    for (int i = 0; i < N; i++)
        tmp[i] = ref[i] * ref[(i + 1) % N];
    struct rig r;
    rig_open_file(&r, "ptx/sync.sm_80.ptx");
    uint64_t args[] = {rig_buf(&r, data, sizeof(int) * N), N};
    struct run_opts o = {.grid = {6}, .block = {64}, .cooperative = 1};
    struct ptx_result res;
    rig_run(&r, "_Z9grid_syncPii", &o, args, &res);
    if (res.fault)
        fail_msg("fault %d: %s", res.fault, res.msg);
    /* After the sync each element is multiplied by its neighbour's phase-one value. A warp reads
     * both before it writes, so every element whose neighbour is handled by the same warp in the
     * same pass has one right answer; the others race by design. */
    for (int i = 0; i < N - 1; i++)
        if (i % 32 != 31)
            assert_int_equal(data[i], tmp[i]);
    /* Non-cooperative launch: the kernel traps (no grid workspace). */
    o.cooperative = 0;
    rig_run(&r, "_Z9grid_syncPii", &o, args, &res);
    assert_int_equal(res.fault, PTX_FAULT_TRAP);
    rig_close(&r);
    free(data);
    free(ref);
    free(tmp);
}

/* ---- faults ---- */

static const char fault_src[] = HDR
    ".visible .entry oob(.param .u64 p, .param .u32 k)\n{\n"
    ".reg .pred %p<4>;\n.reg .b32 %r<8>;\n.reg .b64 %rd<8>;\n"
    "ld.param.u64 %rd1, [p];\nld.param.u32 %r1, [k];\nmov.u32 %r2, %tid.x;\n"
    "setp.eq.u32 %p1, %r1, 1;\n@%p1 trap;\n"
    "setp.eq.u32 %p2, %r1, 2;\n@%p2 bra $L_bar;\n"
    "mul.wide.u32 %rd2, %r2, 4;\nadd.s64 %rd3, %rd1, %rd2;\nst.global.u32 [%rd3], %r2;\nret;\n"
    "$L_bar:\nsetp.eq.u32 %p3, %r2, 0;\n@%p3 bra $L_skip;\nbar.sync 0;\n$L_skip:\n"
    "$L_spin:\nbra.uni $L_spin_end;\n$L_spin_end:\nbar.sync 1;\nret;\n}\n";

static void test_faults(void **state)
{
    (void)state;
    uint32_t buf[40];
    struct rig r;
    rig_open_text(&r, fault_src);
    uint64_t base = rig_buf(&r, buf, sizeof(buf));
    struct ptx_result res;
    /* 64 threads write 4 bytes each into 40 words: thread 40 faults. */
    uint64_t args[] = {base, 0};
    struct run_opts o = {.block = {64}};
    rig_run(&r, "oob", &o, args, &res);
    assert_int_equal(res.fault, PTX_FAULT_ADDRESS);
    assert_true(res.address >= base + sizeof(buf) && res.address < base + 64 * 4);
    assert_non_null(strstr(res.msg, "oob"));
    assert_non_null(strstr(res.msg, "st.global.u32"));
    /* Misaligned. */
    uint64_t args_mis[] = {base + 2, 0};
    o.block[0] = 8;
    rig_run(&r, "oob", &o, args_mis, &res);
    assert_int_equal(res.fault, PTX_FAULT_MISALIGNED);
    assert_true(res.address == base + 2);
    /* trap */
    uint64_t args_trap[] = {base, 1};
    rig_run(&r, "oob", &o, args_trap, &res);
    assert_int_equal(res.fault, PTX_FAULT_TRAP);
    /* Threads 1..63 wait at barrier 0 while thread 0 (alive) went to barrier 1: never completes. */
    uint64_t args_bar[] = {base, 2};
    o.block[0] = 64;
    rig_run(&r, "oob", &o, args_bar, &res);
    assert_int_equal(res.fault, PTX_FAULT_BARRIER);
    rig_close(&r);
}

static void test_assert_and_checks_kernel(void **state)
{
    (void)state;
    enum { N = 64 };
    int in[N], out[N];
    for (int i = 0; i < N; i++)
        in[i] = i * 3;
    struct rig r;
    rig_open_file(&r, "ptx/sync.sm_80.ptx");
    uint64_t args[] = {rig_buf(&r, in, sizeof(in)), rig_buf(&r, out, sizeof(out)), N};
    struct run_opts o = {.block = {N}};
    struct ptx_result res;
    rig_run(&r, "_Z6checksPKiPii", &o, args, &res);
    if (res.fault)
        fail_msg("fault %d: %s", res.fault, res.msg);
    for (int i = 0; i < N; i++)
        assert_int_equal(out[i], in[i]);
    in[5] = 12345;
    rig_run(&r, "_Z6checksPKiPii", &o, args, &res);
    assert_int_equal(res.fault, PTX_FAULT_TRAP);
    rig_close(&r);

    static const char src[] = HDR
        ".extern .func __assertfail(.param .b64 a, .param .b64 b, .param .b32 c, .param .b64 d,"
        " .param .b64 e);\n"
        ".global .align 1 .b8 msg[6] = {120, 32, 62, 32, 48, 0};\n"
        ".global .align 1 .b8 file[5] = {107, 46, 99, 117, 0};\n"
        ".visible .entry ak()\n{\n.reg .b64 %rd<4>;\n"
        "mov.u64 %rd1, msg;\ncvta.global.u64 %rd2, %rd1;\nmov.u64 %rd3, file;\n"
        "{\n.param .b64 param0;\nst.param.b64 [param0], %rd2;\n.param .b64 param1;\n"
        "st.param.b64 [param1], %rd3;\n.param .b32 param2;\nst.param.b32 [param2], 9;\n"
        ".param .b64 param3;\nst.param.b64 [param3], %rd3;\n.param .b64 param4;\n"
        "st.param.b64 [param4], 1;\n"
        "call.uni __assertfail, (param0, param1, param2, param3, param4);\n}\nret;\n}\n";
    rig_open_text(&r, src);
    o.block[0] = 4;
    uint64_t none[1] = {0};
    rig_run(&r, "ak", &o, none, &res);
    assert_int_equal(res.fault, PTX_FAULT_ASSERT);
    assert_non_null(strstr(res.msg, "x > 0"));
    rig_close(&r);
}

/* %clock64 advances while a thread spins; spin_wait exits once flag is set by another CTA... here
 * the flag is already set, and the cycle count must still be positive. */
static void test_clock_advances(void **state)
{
    (void)state;
    int flag = 1;
    long long cycles[32];
    struct rig r;
    rig_open_file(&r, "ptx/sync.sm_80.ptx");
    uint64_t args[] = {rig_buf(&r, &flag, sizeof(flag)), rig_buf(&r, cycles, sizeof(cycles))};
    struct run_opts o = {.block = {32}};
    struct ptx_result res;
    rig_run(&r, "_Z9spin_waitPViPx", &o, args, &res);
    if (res.fault)
        fail_msg("fault %d: %s", res.fault, res.msg);
    for (int i = 0; i < 32; i++)
        assert_true(cycles[i] > 0);
    rig_close(&r);
}


/* ---- indirect calls ---- */

static int gcd_ref(int a, int b)
{
    return b == 0 ? a : gcd_ref(b, a % b);
}

/* The corpus kernel: a __device__ table of function pointers initialised with function names,
 * a call through a prototype with lanes of one warp calling different functions, and recursion. */
static void test_indirect_call_table(void **state)
{
    (void)state;
    static const char *files[] = {"corpus/indirect_call.sm_80.ptx",
                                  "corpus/indirect_call.sm_90.ptx"};
    enum { N = 300 };
    float x[N], y[N];
    int op[N], p[N], q[N], g[N];
    for (int i = 0; i < N; i++) {
        x[i] = 0.25f + (float)(i % 23) * 0.125f;
        op[i] = (i * 7 + i / 5) % 11; /* all four entries, mixed within warps */
        p[i] = (i * 37) % 1000 - 500;
        q[i] = (i * 91) % 777 - 300;
    }
    for (size_t f = 0; f < sizeof(files) / sizeof(files[0]); f++) {
        struct rig r;
        rig_open_file(&r, files[f]);
        memset(y, 0, sizeof(y));
        memset(g, 0, sizeof(g));
        uint64_t args[] = {rig_buf(&r, x, sizeof(x)), rig_buf(&r, op, sizeof(op)),
                           rig_buf(&r, y, sizeof(y)), rig_buf(&r, p, sizeof(p)),
                           rig_buf(&r, q, sizeof(q)), rig_buf(&r, g, sizeof(g)), N};
        struct run_opts o = {.grid = {3}, .block = {128}};
        struct ptx_result res;
        rig_run(&r, "dispatch", &o, args, &res);
        if (res.fault)
            fail_msg("%s: fault %d: %s", files[f], res.fault, res.msg);
        for (int i = 0; i < N; i++) {
            float want;
            switch (op[i] & 3) {
            case 0: want = x[i] * x[i]; break;
            case 1: want = -x[i]; break;
            case 2: want = 1.0f / x[i]; break;
            default: want = expf(x[i]); break;
            }
            if (fabsf(y[i] - want) > 1e-5f * fabsf(want) + 1e-6f)
                fail_msg("%s: y[%d] = %a, want %a (op %d)", files[f], i, y[i], want, op[i] & 3);
            assert_int_equal(g[i], gcd_ref(abs(p[i]), abs(q[i])));
        }
        rig_close(&r);
    }
}

/* Hand-written: a .const table naming functions and variables (plain and generic(...)), mov of a
 * function address, and a call through a value that is not a function address faulting. */
static const char indirect_src[] = HDR
    ".func (.param .b32 r) twice(.param .b32 a)\n{\n.reg .b32 %r<3>;\n"
    "ld.param.b32 %r1, [a];\nadd.s32 %r2, %r1, %r1;\nst.param.b32 [r], %r2;\nret;\n}\n"
    ".func (.param .b32 r) plus7(.param .b32 a)\n{\n.reg .b32 %r<3>;\n"
    "ld.param.b32 %r1, [a];\nadd.s32 %r2, %r1, 7;\nst.param.b32 [r], %r2;\nret;\n}\n"
    ".global .align 4 .u32 val[2] = {40, 41};\n"
    ".const .align 8 .u64 tab[4] = {twice, plus7, generic(val), val+4};\n"
    ".visible .entry ind(.param .u64 out, .param .u32 bad)\n{\n"
    ".reg .pred %p<2>;\n.reg .b32 %r<12>;\n.reg .b64 %rd<16>;\n"
    "ld.param.u64 %rd1, [out];\nld.param.u32 %r9, [bad];\nmov.u32 %r1, %tid.x;\n"
    "and.b32 %r2, %r1, 1;\nmul.wide.u32 %rd2, %r2, 8;\nmov.u64 %rd3, tab;\n"
    "add.s64 %rd4, %rd3, %rd2;\nld.const.u64 %rd5, [%rd4];\n"
    "setp.ne.u32 %p1, %r9, 0;\n@%p1 mov.u64 %rd5, %rd1;\n"
    "{\n.param .b32 param0;\nst.param.b32 [param0], %r1;\n.param .b32 retval0;\n"
    "proto : .callprototype (.param .b32 _) _ (.param .b32 _);\n"
    "call (retval0), %rd5, (param0), proto;\nld.param.b32 %r3, [retval0];\n}\n"
    "mov.u64 %rd6, plus7;\n"
    "{\n.param .b32 param0;\nst.param.b32 [param0], %r3;\n.param .b32 retval0;\n"
    "proto2 : .callprototype (.param .b32 _) _ (.param .b32 _);\n"
    "call.uni (retval0), %rd6, (param0), proto2;\nld.param.b32 %r4, [retval0];\n}\n"
    "ld.const.u64 %rd7, [tab+16];\nld.u32 %r5, [%rd7];\n"
    "ld.const.u64 %rd8, [tab+24];\nld.global.u32 %r6, [%rd8];\n"
    "add.s32 %r7, %r4, %r5;\nadd.s32 %r8, %r7, %r6;\n"
    "mul.wide.u32 %rd9, %r1, 4;\nadd.s64 %rd10, %rd1, %rd9;\nst.global.u32 [%rd10], %r8;\n"
    "ret;\n}\n";

static void test_indirect_call_faults_and_relocs(void **state)
{
    (void)state;
    uint32_t out[64];
    struct rig r;
    rig_open_text(&r, indirect_src);
    const struct ptx_var *tab = ptx_module_var(r.mod, "tab");
    assert_non_null(tab);
    assert_int_equal(tab->nrelocs, 2);
    uint64_t base = rig_buf(&r, out, sizeof(out));
    uint64_t args[] = {base, 0};
    struct run_opts o = {.block = {64}};
    struct ptx_result res;
    rig_run(&r, "ind", &o, args, &res);
    if (res.fault)
        fail_msg("fault %d: %s", res.fault, res.msg);
    for (uint32_t t = 0; t < 64; t++) {
        uint32_t first = (t & 1) ? t + 7 : t * 2;
        assert_int_equal(out[t], first + 7 + 40 + 41);
    }
    /* A data pointer is not a function: the call faults with the address named. */
    uint64_t args_bad[] = {base, 1};
    rig_run(&r, "ind", &o, args_bad, &res);
    assert_int_equal(res.fault, PTX_FAULT_ADDRESS);
    assert_true(res.address == base);
    assert_non_null(strstr(res.msg, "not the address of a function"));
    rig_close(&r);
}

/* ---- executor gaps ---- */

/* lane_insns counts the lanes whose guard holds, not every active lane: 64 threads run 3
 * unguarded instructions and one store guarded to the 10 threads with tid < 10, then ret. */
static const char guard_src[] = HDR
    ".visible .entry g(.param .u64 p)\n{\n.reg .pred %p<2>;\n.reg .b32 %r<4>;\n.reg .b64 %rd<4>;\n"
    "ld.param.u64 %rd1, [p];\nmov.u32 %r1, %tid.x;\nsetp.lt.u32 %p1, %r1, 10;\n"
    "@%p1 st.global.u32 [%rd1], %r1;\nret;\n}\n";

static void test_lane_insns_count_guarded_lanes(void **state)
{
    (void)state;
    uint32_t word = 0;
    struct rig r;
    rig_open_text(&r, guard_src);
    uint64_t args[] = {rig_buf(&r, &word, sizeof(word))};
    struct run_opts o = {.block = {64}};
    struct ptx_result res;
    rig_run(&r, "g", &o, args, &res);
    if (res.fault)
        fail_msg("fault %d: %s", res.fault, res.msg);
    /* ld, mov (%tid.x), setp, ret: 64 lanes each; the store: 10 lanes. */
    assert_int_equal(res.lane_insns, 4 * 64 + 10);
    rig_close(&r);
}

/* printf("%s|%5s|%-4s|%.3s\n", long, "ab", "c", "xyzw") with a 3000-character string: nothing
 * is cut, width and precision apply. */
static void test_printf_long_string(void **state)
{
    (void)state;
    enum { LONG = 3000 };
    static char text[LONG + 1];
    for (int i = 0; i < LONG; i++)
        text[i] = (char)('a' + i % 26);
    static const char fmt[] = "%s|%5s|%-4s|%.3s\n";
    static const char shorts[] = "ab\0c\0xyzw";
    struct rig r;
    static const char src[] = HDR
        ".extern .func (.param .b32 r) vprintf(.param .b64 f, .param .b64 a);\n"
        ".visible .entry pf(.param .u64 f, .param .u64 a)\n{\n.reg .b32 %r<2>;\n.reg .b64 %rd<3>;\n"
        "ld.param.u64 %rd1, [f];\nld.param.u64 %rd2, [a];\n"
        "{\n.param .b64 param0;\nst.param.b64 [param0], %rd1;\n.param .b64 param1;\n"
        "st.param.b64 [param1], %rd2;\n.param .b32 retval0;\n"
        "call.uni (retval0), vprintf, (param0, param1);\nld.param.b32 %r1, [retval0];\n}\nret;\n}\n";
    rig_open_text(&r, src);
    uint64_t dfmt = rig_buf(&r, (void *)fmt, sizeof(fmt));
    uint64_t dtext = rig_buf(&r, text, sizeof(text));
    uint64_t dshort = rig_buf(&r, (void *)shorts, sizeof(shorts));
    uint64_t argbuf[4] = {dtext, dshort, dshort + 3, dshort + 5};
    uint64_t dargs = rig_buf(&r, argbuf, sizeof(argbuf));
    char tmpl[] = "/tmp/gpool-exec-printf-long-XXXXXX";
    int fd = mkstemp(tmpl);
    assert_true(fd >= 0);
    unlink(tmpl);
    uint64_t args[] = {dfmt, dargs};
    struct run_opts o = {.block = {1}, .printf_fd = fd};
    struct ptx_result res;
    rig_run(&r, "pf", &o, args, &res);
    if (res.fault)
        fail_msg("fault %d: %s", res.fault, res.msg);
    static char want[LONG + 64], got[LONG + 64];
    int wn = snprintf(want, sizeof(want), fmt, text, "ab", "c", "xyzw");
    memset(got, 0, sizeof(got));
    assert_int_equal(pread(fd, got, sizeof(got) - 1, 0), wn);
    assert_string_equal(got, want);
    close(fd);
    rig_close(&r);
}

/* %clock64 advances while a warp spins on it: the loop reads it until it has moved 200000 ticks
 * past the first read, and must get there (a clock that stood still would spin forever; the test
 * harness times out). Each lane reports how far it got and how many reads it took. */
static const char clock_src[] = HDR
    ".visible .entry spin(.param .u64 p)\n{\n.reg .pred %p<2>;\n.reg .b32 %r<4>;\n"
    ".reg .b64 %rd<10>;\n"
    "ld.param.u64 %rd1, [p];\nmov.u32 %r1, %tid.x;\nmov.u64 %rd2, %clock64;\nmov.u64 %rd5, 0;\n"
    "$L_spin:\nmov.u64 %rd3, %clock64;\nadd.s64 %rd5, %rd5, 1;\nsub.s64 %rd4, %rd3, %rd2;\n"
    "setp.lt.s64 %p1, %rd4, 200000;\n@%p1 bra $L_spin;\n"
    "mul.wide.u32 %rd6, %r1, 16;\nadd.s64 %rd7, %rd1, %rd6;\nst.global.u64 [%rd7], %rd4;\n"
    "st.global.u64 [%rd7+8], %rd5;\nret;\n}\n";

static void test_clock64_spin_advances(void **state)
{
    (void)state;
    uint64_t out[64][2];
    memset(out, 0, sizeof(out));
    struct rig r;
    rig_open_text(&r, clock_src);
    uint64_t args[] = {rig_buf(&r, out, sizeof(out))};
    struct run_opts o = {.block = {64}};
    struct ptx_result res;
    rig_run(&r, "spin", &o, args, &res);
    if (res.fault)
        fail_msg("fault %d: %s", res.fault, res.msg);
    for (int i = 0; i < 64; i++) {
        assert_true(out[i][0] >= 200000);
        assert_true(out[i][1] >= 2); /* it really spun */
    }
    rig_close(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_all_committed_kernels_lower),
        cmocka_unit_test(test_unsupported_rejected_at_load),
        cmocka_unit_test(test_vector_add),
        cmocka_unit_test(test_integer_semantics),
        cmocka_unit_test(test_warp_semantics),
        cmocka_unit_test(test_barrier_reductions),
        cmocka_unit_test(test_sgemm_tiled),
        cmocka_unit_test(test_reduce_shfl_atomics),
        cmocka_unit_test(test_device_functions_recursion_printf),
        cmocka_unit_test(test_cooperative_grid_sync),
        cmocka_unit_test(test_faults),
        cmocka_unit_test(test_assert_and_checks_kernel),
        cmocka_unit_test(test_clock_advances),
        cmocka_unit_test(test_indirect_call_table),
        cmocka_unit_test(test_indirect_call_faults_and_relocs),
        cmocka_unit_test(test_lane_insns_count_guarded_lanes),
        cmocka_unit_test(test_printf_long_string),
        cmocka_unit_test(test_clock64_spin_advances),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
