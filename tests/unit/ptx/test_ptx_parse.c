/*
 * Unit tests of the PTX front end: every committed kernel under tests/kernels parses with zero
 * rejections and decodes to the facts the executor and launch path rely on; malformed text is
 * rejected with a line, a column and a message, never a crash.
 */
#include <dirent.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "ptx.h"

#ifndef PTX_KERNEL_DIR
#error "PTX_KERNEL_DIR must name tests/kernels"
#endif

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

static struct ptx_module *load_kernel(const char *rel)
{
    char path[512];
    snprintf(path, sizeof(path), "%s/%s", PTX_KERNEL_DIR, rel);
    size_t len = 0;
    char *src = read_file(path, &len);
    assert_non_null(src);
    struct ptx_module *mod = NULL;
    struct ptx_error err;
    int rc = ptx_parse(src, len, &mod, &err);
    if (rc)
        fail_msg("%s:%u:%u: %s", rel, err.line, err.col, err.msg);
    free(src);
    return mod;
}

/* Parses every .ptx in dir (relative to tests/kernels); returns how many. */
static int parse_dir(const char *rel)
{
    char path[512];
    snprintf(path, sizeof(path), "%s/%s", PTX_KERNEL_DIR, rel);
    DIR *d = opendir(path);
    if (!d)
        return 0;
    int count = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        size_t n = strlen(e->d_name);
        if (n < 5 || strcmp(e->d_name + n - 4, ".ptx"))
            continue;
        char file[512];
        snprintf(file, sizeof(file), "%s%s%s", rel, rel[0] ? "/" : "", e->d_name);
        struct ptx_module *mod = load_kernel(file);
        assert_true(mod->nfuncs > 0);
        for (uint32_t i = 0; i < mod->nfuncs; i++) {
            const struct ptx_function *fn = &mod->funcs[i];
            for (uint32_t j = 0; j < fn->ninsns; j++) {
                const struct ptx_insn *in = &fn->insns[j];
                assert_true(in->op < PTX_OP_COUNT);
                assert_int_equal(in->key, PTX_KEY(in->op, in->type));
                for (unsigned k = 0; k < in->nops; k++)
                    if (in->ops[k].kind == PTX_OPND_LABEL)
                        assert_true(in->ops[k].index <= fn->ninsns);
                    else if (in->ops[k].kind == PTX_OPND_REG)
                        assert_true(in->ops[k].index < fn->nregs[in->ops[k].rclass]);
            }
        }
        ptx_module_free(mod);
        count++;
    }
    closedir(d);
    return count;
}

static void test_all_committed_kernels_parse(void **state)
{
    (void)state;
    int n = parse_dir("") + parse_dir("ptx");
    assert_true(n >= 19);
}

static void test_vector_add_decoded(void **state)
{
    (void)state;
    struct ptx_module *mod = load_kernel("vector_add.sm_80.ptx");
    assert_int_equal(mod->version_major, 9);
    assert_int_equal(mod->version_minor, 0);
    assert_string_equal(mod->target, "sm_80");
    assert_int_equal(mod->address_size, 64);
    const struct ptx_function *fn = ptx_module_function(mod, "vector_add");
    assert_non_null(fn);
    assert_true(fn->is_entry && fn->is_visible && fn->defined);
    /* Parameters: three pointers and an int, as cuFuncGetParamInfo reports them. */
    assert_int_equal(fn->nparams, 4);
    assert_int_equal(fn->params[0].offset, 0);
    assert_int_equal(fn->params[1].offset, 8);
    assert_int_equal(fn->params[2].offset, 16);
    assert_int_equal(fn->params[3].offset, 24);
    assert_int_equal(fn->params[3].size, 4);
    assert_int_equal(fn->param_size, 32);
    assert_string_equal(fn->params[3].name, "vector_add_param_3");
    /* .reg .pred %p<2>; .f32 %f<4>; .b32 %r<6>; .b64 %rd<11> */
    assert_int_equal(fn->nregs[PTX_RC_PRED], 2);
    assert_int_equal(fn->nregs[PTX_RC_32], 4 + 6);
    assert_int_equal(fn->nregs[PTX_RC_64], 11);
    assert_int_equal(fn->ninsns, 22);
    /* @%p1 bra $L__BB0_2 jumps to the final ret. */
    int64_t target = ptx_function_label(fn, "$L__BB0_2");
    assert_int_equal(target, 21);
    const struct ptx_insn *bra = &fn->insns[9];
    assert_int_equal(bra->op, PTX_OP_BRA);
    assert_int_equal(bra->guard, 1);
    assert_false(bra->flags & PTX_F_GUARD_NEG);
    assert_int_equal(bra->ops[0].kind, PTX_OPND_LABEL);
    assert_int_equal(bra->ops[0].index, 21);
    assert_int_equal(fn->insns[21].op, PTX_OP_RET);
    /* ld.param.u32 %r2, [vector_add_param_3] */
    const struct ptx_insn *ld = &fn->insns[3];
    assert_int_equal(ld->key, PTX_KEY(PTX_OP_LD, PTX_T_U32));
    assert_int_equal(ld->space, PTX_SPACE_PARAM);
    assert_int_equal(ld->ops[0].kind, PTX_OPND_REG);
    assert_int_equal(ld->ops[0].rclass, PTX_RC_32);
    assert_int_equal(ld->ops[1].kind, PTX_OPND_ADDR);
    assert_int_equal(ld->ops[1].sym, PTX_SYM_PARAM);
    assert_int_equal(ld->ops[1].index, 24);
    /* mov.u32 %r3, %ctaid.x */
    assert_int_equal(fn->insns[4].ops[1].kind, PTX_OPND_SREG);
    assert_int_equal(fn->insns[4].ops[1].index, PTX_SREG_CTAID_X);
    /* mad.lo.s32, setp.ge.s32, mul.wide.s32 with an immediate, ld.global.f32 [%rd8] */
    assert_int_equal(fn->insns[7].key, PTX_KEY(PTX_OP_MAD, PTX_T_S32));
    assert_true(fn->insns[7].flags & PTX_F_LO);
    assert_int_equal(fn->insns[8].op, PTX_OP_SETP);
    assert_int_equal(fn->insns[8].cmp, PTX_CMP_GE);
    assert_int_equal(fn->insns[11].op, PTX_OP_MUL);
    assert_true(fn->insns[11].flags & PTX_F_WIDE);
    assert_int_equal(fn->insns[11].ops[2].kind, PTX_OPND_IMM);
    assert_int_equal(fn->insns[11].ops[2].imm, 4);
    assert_int_equal(fn->insns[15].key, PTX_KEY(PTX_OP_LD, PTX_T_F32));
    assert_int_equal(fn->insns[15].space, PTX_SPACE_GLOBAL);
    assert_int_equal(fn->insns[15].ops[1].sym, PTX_SYM_NONE);
    assert_int_equal(fn->insns[15].ops[1].rclass, PTX_RC_64);
    assert_true(fn->insns[10].flags & PTX_F_TO);
    ptx_module_free(mod);
}

static const struct ptx_insn *find_insn(const struct ptx_function *fn, unsigned op, unsigned from)
{
    for (uint32_t i = from; i < fn->ninsns; i++)
        if (fn->insns[i].op == op)
            return &fn->insns[i];
    return NULL;
}

static void test_devfunc_decoded(void **state)
{
    (void)state;
    struct ptx_module *mod = load_kernel("ptx/devfunc.sm_80.ptx");
    const struct ptx_function *vp = ptx_module_function(mod, "vprintf");
    assert_non_null(vp);
    assert_false(vp->defined);
    assert_true(vp->is_extern);
    assert_int_equal(vp->nrets, 1);
    assert_int_equal(vp->nparams, 2);
    /* Module variables with initialisers and the dynamic shared array. */
    const struct ptx_var *coeffs = ptx_module_var(mod, "coeffs");
    assert_non_null(coeffs);
    assert_int_equal(coeffs->space, PTX_SPACE_CONST);
    assert_int_equal(coeffs->size, 16);
    assert_int_equal(coeffs->init[2], 128);
    assert_int_equal(coeffs->init[3], 63);
    const struct ptx_var *counter = ptx_module_var(mod, "counter");
    assert_int_equal(counter->type, PTX_T_U32);
    assert_int_equal(counter->init[0], 7);
    const struct ptx_var *table = ptx_module_var(mod, "table");
    assert_int_equal(table->size, 32);
    assert_int_equal(table->init[28], 34);
    assert_int_equal(table->init[31], 0);
    const struct ptx_var *dyn = ptx_module_var(mod, "dyn");
    assert_true(dyn->unsized && dyn->is_extern);
    assert_int_equal(dyn->space, PTX_SPACE_SHARED);
    assert_int_equal(dyn->align, 16);
    /* A device function returns through func_retval0. */
    const struct ptx_function *fib = ptx_module_function(mod, "_Z3fibi");
    assert_true(fib->defined && !fib->is_entry);
    assert_int_equal(fib->nrets, 1);
    assert_int_equal(fib->ret_size, 4);
    const struct ptx_insn *call = find_insn(fib, PTX_OP_CALL, 0);
    assert_non_null(call);
    assert_true(call->flags & PTX_F_UNI);
    assert_int_equal(call->nops, 3);
    assert_int_equal(call->ops[0].kind, PTX_OPND_LIST);
    assert_int_equal(call->ops[1].kind, PTX_OPND_FUNC);
    assert_ptr_equal(&mod->funcs[call->ops[1].index], fib);
    assert_int_equal(call->ops[2].kind, PTX_OPND_LIST);
    assert_int_equal(call->ops[2].imm, 1);
    const struct ptx_operand *arg = &fib->xops[call->ops[2].index];
    assert_int_equal(arg->kind, PTX_OPND_SYMADDR);
    assert_int_equal(arg->sym, PTX_SYM_CALLPARAM);
    assert_true(fib->callparam_size >= 8);
    /* st.param.b32 [func_retval0+0] */
    const struct ptx_insn *st = &fib->insns[fib->ninsns - 2];
    assert_int_equal(st->op, PTX_OP_ST);
    assert_int_equal(st->ops[0].sym, PTX_SYM_RETPARAM);
    /* The kernel: launch bounds, a .local depot, %SP registers. */
    const struct ptx_function *k = ptx_module_function(mod, "_Z9use_funcsPfi");
    assert_int_equal(k->maxntid[0], 128);
    assert_int_equal(k->maxntid[1], 1);
    assert_int_equal(k->minnctapersm, 4);
    assert_int_equal(k->local_size, 8);
    assert_int_equal(k->local_align, 8);
    const struct ptx_insn *bar = find_insn(k, PTX_OP_BAR, 0);
    assert_int_equal(bar->mode, PTX_BAR_SYNC);
    assert_int_equal(bar->ops[0].kind, PTX_OPND_IMM);
    /* st.global.v4.f32 [%rd], {%f6, %f2, %f3, %f4} and ld.global.nc.v4.f32 */
    const struct ptx_function *v4 = ptx_module_function(mod, "_Z9vec4_copyPK6float4PS_ix");
    assert_non_null(v4);
    const struct ptx_insn *ldv = find_insn(v4, PTX_OP_LD, 0);
    while (ldv && ldv->space != PTX_SPACE_GLOBAL)
        ldv = find_insn(v4, PTX_OP_LD, (unsigned)(ldv - v4->insns) + 1);
    assert_non_null(ldv);
    assert_int_equal(ldv->vec, 4);
    assert_true(ldv->flags & PTX_F_NC);
    assert_int_equal(ldv->ops[0].kind, PTX_OPND_VEC);
    assert_int_equal(ldv->ops[0].imm, 4);
    const struct ptx_insn *clk = NULL;
    for (uint32_t i = 0; i < v4->ninsns; i++)
        if (v4->insns[i].ops[1].kind == PTX_OPND_SREG &&
            v4->insns[i].ops[1].index == PTX_SREG_CLOCK64)
            clk = &v4->insns[i];
    assert_non_null(clk);
    assert_int_equal(v4->param_size, 32);
    ptx_module_free(mod);
}

static void test_reduce_decoded(void **state)
{
    (void)state;
    struct ptx_module *mod = load_kernel("ptx/reduce.sm_90.ptx");
    assert_string_equal(mod->target, "sm_90");
    const struct ptx_function *fn = ptx_module_function(mod, "_Z11reduce_shflPKiPii");
    assert_non_null(fn);
    const struct ptx_insn *sh = find_insn(fn, PTX_OP_SHFL, 0);
    assert_non_null(sh);
    assert_true(sh->flags & PTX_F_SYNC);
    assert_int_equal(sh->key, PTX_KEY(PTX_OP_SHFL, PTX_T_B32));
    /* shfl.sync.down.b32 %r21|%p3, %r41, %r19, %r18, %r20: a destination pair, four sources. */
    assert_true(sh->flags & PTX_F_PAIR_DEST);
    assert_int_equal(sh->nops, 6);
    assert_int_equal(sh->ops[1].kind, PTX_OPND_REG);
    assert_int_equal(sh->ops[1].rclass, PTX_RC_PRED);
    int modes = 0;
    for (const struct ptx_insn *i = sh; i;
         i = find_insn(fn, PTX_OP_SHFL, (unsigned)(i - fn->insns) + 1))
        modes |= 1 << (i->mode - PTX_SHFL_UP);
    assert_int_equal(modes, 0xf);
    const struct ptx_insn *at = find_insn(fn, PTX_OP_ATOM, 0);
    assert_int_equal(at->mode, PTX_ATOM_ADD);
    assert_int_equal(at->space, PTX_SPACE_GLOBAL);
    const struct ptx_function *vb = ptx_module_function(mod, "_Z11vote_ballotPKiPj");
    const struct ptx_insn *vote = find_insn(vb, PTX_OP_VOTE, 0);
    assert_non_null(vote);
    assert_non_null(find_insn(vb, PTX_OP_ACTIVEMASK, 0));
    ptx_module_free(mod);
}

static void test_sync_decoded(void **state)
{
    (void)state;
    struct ptx_module *mod = load_kernel("ptx/sync.sm_80.ptx");
    const struct ptx_function *fn = ptx_module_function(mod, "_Z18barrier_reductionsPKiPi");
    assert_non_null(fn);
    /* __syncthreads_count/and/or become bar.red; __syncwarp is bar.warp.sync. */
    int reds = 0;
    for (uint32_t i = 0; i < fn->ninsns; i++)
        if (fn->insns[i].op == PTX_OP_BAR && fn->insns[i].mode == PTX_BAR_RED)
            reds |= 1 << fn->insns[i].boolop;
    assert_int_equal(reds, (1 << PTX_BOOL_POPC) | (1 << PTX_BOOL_AND) | (1 << PTX_BOOL_OR));
    assert_non_null(find_insn(fn, PTX_OP_BAR_WARP, 0));
    const struct ptx_insn *m = find_insn(fn, PTX_OP_MATCH, 0);
    assert_non_null(m);
    assert_true(m->flags & PTX_F_SYNC);
    const struct ptx_insn *rx = find_insn(fn, PTX_OP_REDUX, 0);
    assert_non_null(rx);
    assert_int_equal(rx->mode, PTX_ATOM_ADD);
    /* Cooperative grid sync reads its workspace from %envreg1/2. */
    const struct ptx_function *gs = ptx_module_function(mod, "_Z9grid_syncPii");
    bool envreg = false;
    for (uint32_t i = 0; i < gs->ninsns; i++)
        if (gs->insns[i].ops[1].kind == PTX_OPND_SREG &&
            gs->insns[i].ops[1].index == PTX_SREG_ENVREG0 + 2)
            envreg = true;
    assert_true(envreg);
    const struct ptx_function *ck = ptx_module_function(mod, "_Z6checksPKiPii");
    assert_non_null(find_insn(ck, PTX_OP_TRAP, 0));
    assert_non_null(find_insn(ck, PTX_OP_NANOSLEEP, 0));
    assert_false(ptx_module_function(mod, "__assertfail")->defined);
    ptx_module_free(mod);
}

static void test_misc_decoded(void **state)
{
    (void)state;
    struct ptx_module *mod = load_kernel("ptx/misc.sm_90.ptx");
    /* A struct passed by value: one .b8 array parameter, 8-aligned; the pointer follows it. */
    const struct ptx_function *gc = ptx_module_function(mod, "_Z20grid_constant_kernel6ParamsPf");
    assert_non_null(gc);
    assert_int_equal(gc->nparams, 2);
    assert_int_equal(gc->params[0].size, 32);
    assert_int_equal(gc->params[0].align, 8);
    assert_int_equal(gc->params[1].offset, 32);
    assert_int_equal(gc->param_size, 40);
    const struct ptx_var *mc = ptx_module_var(mod, "managed_counter");
    assert_non_null(mc);
    assert_true(mc->is_managed);
    assert_int_equal(mc->space, PTX_SPACE_GLOBAL);
    const struct ptx_function *aw =
        ptx_module_function(mod, "_Z12atomics_widePyPtP7__half2P6__halfPd");
    bool cas16 = false, h2 = false;
    for (uint32_t i = 0; i < aw->ninsns; i++) {
        const struct ptx_insn *in = &aw->insns[i];
        if (in->key == PTX_KEY(PTX_OP_ATOM, PTX_T_B16) && in->mode == PTX_ATOM_CAS)
            cas16 = in->nops == 4;
        if (in->key == PTX_KEY(PTX_OP_ATOM, PTX_T_F16X2) && (in->flags & PTX_F_NOFTZ))
            h2 = in->space == PTX_SPACE_GENERIC;
    }
    assert_true(cas16 && h2);
    const struct ptx_function *sb = ptx_module_function(mod, "_Z10simd_bytesPKjS0_Pji");
    const struct ptx_insn *dp = find_insn(sb, PTX_OP_DP4A, 0);
    assert_non_null(dp);
    assert_int_equal(dp->type, PTX_T_U32);
    assert_int_equal(dp->type2, PTX_T_U32);
    ptx_module_free(mod);
}

/* ---- malformed input ---- */

static const char head[] = ".version 9.0\n.target sm_80\n.address_size 64\n";

/* Parses head + body; expects rejection at line (counting the 3 header lines) with a message
 * containing want. */
static void expect_reject(const char *body, unsigned line, const char *want)
{
    char src[4096];
    snprintf(src, sizeof(src), "%s%s", head, body);
    struct ptx_module *mod = (struct ptx_module *)1;
    struct ptx_error err;
    int rc = ptx_parse(src, strlen(src), &mod, &err);
    if (rc != -EINVAL)
        fail_msg("accepted (rc %d): %s", rc, body);
    assert_null(mod);
    if (line && err.line != line)
        fail_msg("error at line %u, want %u: %s", err.line, line, err.msg);
    assert_true(err.col >= 1);
    if (!strstr(err.msg, want))
        fail_msg("message '%s' lacks '%s'", err.msg, want);
}

#define K(body)                                                                                    \
    ".visible .entry k(.param .u64 p)\n{\n.reg .b32 %r<4>;\n.reg .pred %p<2>;\n" body "}\n"

static void test_rejects_unknown_opcode(void **state)
{
    (void)state;
    expect_reject(K("frobnicate.b32 %r1, %r2;\n"), 8, "frobnicate");
    expect_reject(K("add.s32 %r1, %r2, %r3;\nmma.sync.aligned.m16n8k16 %r1, %r2;\n"), 9, "mma");
    expect_reject(K("add.bogus.s32 %r1, %r2, %r3;\n"), 8, "bogus");
    expect_reject(K("add.s32.f32 %r1, %r2, %r3;\n"), 8, "too many types");
    expect_reject(K("popc.f32 %r1, %r2;\n"), 8, "not valid for popc");
    expect_reject(K("add %r1, %r2, %r3;\n"), 8, "needs a type");
    expect_reject(K("mul.wide.lo.s32 %r1, %r2, %r3;\n"), 8, "conflicting");
    expect_reject(K("setp.lt.gt.s32 %p1, %r2, %r3;\n"), 8, "conflicting");
    expect_reject(K("shfl.sync.diag.b32 %r1, %r2, 1, 31, -1;\n"), 8, "diag");
    expect_reject(K("fence.proxy.async;\n"), 8, "proxy");
    /* SIMD video instructions are not supported yet: rejected by name. */
    expect_reject(K("vabsdiff4.u32.u32.u32.add %r1, %r2, %r3, %r1;\n"), 8, "vabsdiff4");
}

static void test_rejects_bad_operands(void **state)
{
    (void)state;
    expect_reject(K("add.s32 %r1, %r2, %r9;\n"), 8, "%r9");
    expect_reject(K("add.s32 %r1, %r2;\n"), 8, "operands");
    expect_reject(K("add.s32 %r1, %r2, [%r3];\n"), 8, "address");
    expect_reject(K("ld.global.u32 %r1, %r2;\n"), 8, "address");
    expect_reject(K("ld.global.v2.u32 {%r1, %r2, %r3}, [p];\n"), 8, "does not match");
    expect_reject(K("@%r1 bra L;\nL:\nret;\n"), 8, "not a predicate");
    expect_reject(K("bra nowhere;\n"), 8, "nowhere");
    expect_reject(K("mov.u32 %r1, %tid;\n"), 8, "%tid");
    expect_reject(K("mov.u32 %r1, undeclared_sym;\n"), 8, "undeclared");
    expect_reject(K("L:\nL:\nret;\n"), 9, "twice");
    expect_reject(K("add.s32 %r1, %r2, ;\n"), 8, "operand");
    expect_reject(K("ld.global.u32 %r1, [%r2+];\n"), 8, "number");
    expect_reject(K("call.uni (%r1), %r2, (%r3);\n"), 8, "function");
    /* Indirect calls: a 64-bit register and a .callprototype; initialisers naming symbols. */
    expect_reject(".visible .entry k(.param .u64 p)\n{\n.reg .b64 %rd<4>;\n"
                  "call.uni %rd1, ();\n}\n", 7, ".callprototype");
    expect_reject(".visible .entry k(.param .u64 p)\n{\n.reg .b64 %rd<4>;\n"
                  "pr : .callprototype _ (.param .b32 _);\nmov.u64 %rd1, pr;\n}\n", 8,
                  ".callprototype");
    expect_reject(".global .u64 t[1] = {nothere};\n", 4, "not declared");
    expect_reject(".global .u32 x;\n.global .u32 t[1] = {x};\n", 5, "64 bits");
    expect_reject(".shared .u32 x;\n.global .u64 t[1] = {x};\n", 5, "only .global");
}

static void test_indirect_call_decoded(void **state)
{
    (void)state;
    static const char src[] = ".version 9.0\n.target sm_80\n.address_size 64\n"
        ".func (.param .b32 r) f(.param .b32 a);\n"
        ".global .align 4 .u32 v[4];\n"
        ".global .align 8 .u64 t[3] = {f, generic(v), v+8};\n"
        ".visible .entry k()\n{\n.reg .b32 %r<3>;\n.reg .b64 %rd<3>;\n"
        "mov.u64 %rd1, f;\n{\n.param .b32 param0;\n.param .b32 retval0;\n"
        "pr : .callprototype (.param .b32 _) _ (.param .b32 _);\n"
        "call (retval0), %rd1, (param0), pr;\n}\nret;\n}\n";
    struct ptx_module *mod;
    struct ptx_error err;
    if (ptx_parse(src, strlen(src), &mod, &err))
        fail_msg("%u:%u: %s", err.line, err.col, err.msg);
    const struct ptx_var *t = ptx_module_var(mod, "t");
    assert_non_null(t);
    uint64_t a0;
    memcpy(&a0, t->init, 8);
    assert_true(a0 == PTX_FUNC_ADDR(0));
    assert_int_equal(t->nrelocs, 2);
    assert_int_equal(t->relocs[0].offset, 8);
    assert_int_equal(t->relocs[1].offset, 16);
    assert_int_equal(t->relocs[1].addend, 8);
    assert_string_equal(mod->vars[t->relocs[0].var].name, "v");
    const struct ptx_function *k = ptx_module_function(mod, "k");
    assert_int_equal(k->nprotos, 1);
    assert_int_equal(k->protos[0].nparams, 1);
    assert_int_equal(k->protos[0].nrets, 1);
    const struct ptx_insn *call = &k->insns[1];
    assert_int_equal(call->op, PTX_OP_CALL);
    assert_int_equal(call->ops[1].kind, PTX_OPND_REG);
    assert_int_equal(call->ops[3].kind, PTX_OPND_PROTO);
    assert_int_equal(k->insns[0].ops[1].kind, PTX_OPND_FUNC);
    ptx_module_free(mod);
}

static void test_rejects_structure(void **state)
{
    (void)state;
    /* Truncated inside a function: the unbalanced brace is reported at end of input. */
    expect_reject(".visible .entry k()\n{\n.reg .b32 %r<2>;\nmov.u32 %r1, 1;\n", 0, "not closed");
    expect_reject(K("{\nret;\n"), 0, "unbalanced");
    expect_reject(K("ret;\n}\n}\n"), 0, "");
    expect_reject(K("add.s32 %r1, %r2, %r3\nret;\n"), 9, "';'");
    expect_reject(".visible .entry k(.param .u64 p\n{\n}\n", 5, "')'");
    expect_reject(".visible .entry k()\n{\n/* never closed\n}\n", 6, "comment");
    expect_reject(".section .debug_info {}\n", 4, ".section");
    expect_reject(K(".callprototype (.param .b32 _) _ ();\n"), 8, ".callprototype");
    expect_reject(".global .u32 x = {1, 2};\n", 4, "too many initialisers");
    expect_reject(".global .u32 x[2] = {1, sym};\n", 4, "sym");
    expect_reject(".visible .entry k()\n{\nret;\n}\n.visible .entry k()\n{\nret;\n}\n", 8, "twice");
    expect_reject("\x01", 4, "0x01");
    expect_reject(".visible .entry k()\n{\nmov.u32 %r1, \"str\";\n}\n", 6, "");
}

static void test_rejects_huge_numbers(void **state)
{
    (void)state;
    expect_reject(K("mov.u32 %r1, 99999999999999999999999;\n"), 8, "too large");
    expect_reject(K("mov.u32 %r1, 0x1ffffffffffffffff;\n"), 8, "too large");
    expect_reject(".visible .entry k()\n{\n.reg .b32 %r<99999999999>;\n}\n", 6, "too large");
    expect_reject(".global .b8 big[4294967296][4294967296];\n", 4, "");
    expect_reject(K("mov.f32 %r1, 0f3F80;\n"), 8, "hex digits");
    expect_reject(".visible .entry k(.param .b8 p[99999999])\n{\nret;\n}\n", 4, "too large");
}

static void test_missing_header(void **state)
{
    (void)state;
    struct ptx_module *mod;
    struct ptx_error err;
    const char *s = ".visible .entry k()\n{\nret;\n}\n";
    assert_int_equal(ptx_parse(s, strlen(s), &mod, &err), -EINVAL);
    assert_int_equal(err.line, 1);
    assert_non_null(strstr(err.msg, ".version"));
    assert_int_equal(ptx_parse("", 0, &mod, &err), -EINVAL);
    assert_int_equal(ptx_parse(s, (size_t)PTX_MAX_SOURCE + 1, &mod, &err), -E2BIG);
}

/* Hand-written PTX covering forms nvcc emits less often. */
static void test_handwritten_forms(void **state)
{
    (void)state;
    const char *src =
        ".version 7.8\n.target sm_75, debug\n.address_size 64\n"
        ".file 1 \"k.cu\"\n"
        ".global .align 8 .f64 dv[2] = {0d3FF0000000000000, -1.5};\n"
        ".global .f32 fv = 2.5;\n"
        ".visible .func (.param .b64 r) f(.param .align 8 .b8 s[16], .param .b32 x)\n"
        "{\n  .reg .b64 %rd<3>;\n  ld.param.b64 %rd1, [s+8];\n  st.param.b64 [r], %rd1;\n  "
        "ret;\n}\n"
        ".visible .entry k(.param .u64 .ptr .global .align 16 p, .param .u8 c)\n"
        ".reqntid 32, 2\n.maxnreg 64\n"
        "{\n"
        "  .reg .pred %p<3>; .reg .b32 %r<8>; .reg .f32 %f<4>; .reg .b64 %rd<4>; .reg .b16 "
        "%rs<2>;\n"
        "  .shared .align 4 .b8 sm[128];\n"
        "  .loc 1 10 3\n"
        "  mov.u32 %r1, %laneid;  mov.u32 %r2, %warpid; mov.u64 %rd1, %globaltimer;\n"
        "  setp.lt.and.s32 %p1|%p2, %r1, 0x10, !%p0;\n"
        "  @!%p1 bra.uni DONE;\n"
        "  mov.f32 %f1, 0f3F800000; mov.f32 %f2, 1.0; add.rn.ftz.sat.f32 %f3, %f1, -0f3F800000;\n"
        "  cvt.rzi.sat.s32.f32 %r3, %f3;\n"
        "  shfl.sync.idx.b32 %r4|%p2, %r3, 0, 0x1f, 0xffffffff;\n"
        "  atom.shared.cas.b32 %r5, [sm+4], %r1, %r2;\n"
        "  red.relaxed.gpu.global.add.u32 [%rd1+-8], 1;\n"
        "  st.shared.v2.b32 [sm], {%r1, _};\n"
        "  bar.red.popc.u32 %r6, 0, %p1;\n"
        "  membar.gl; fence.acq_rel.gpu;\n"
        "  ld.volatile.shared.u32 %r7, [%r1];\n"
        "  { .reg .b16 lo, hi; mov.b32 {lo, hi}, %r7; mov.b16 %rs1, hi; }\n"
        "  { .param .align 8 .b8 a0[16]; .param .b32 a1; .param .b64 rv;\n"
        "    call.uni (rv), f, (a0, a1); }\n"
        "DONE:\n  exit;\n}\n";
    struct ptx_module *mod;
    struct ptx_error err;
    int rc = ptx_parse(src, strlen(src), &mod, &err);
    if (rc)
        fail_msg("%u:%u: %s", err.line, err.col, err.msg);
    assert_int_equal(mod->version_minor, 8);
    const struct ptx_var *dv = ptx_module_var(mod, "dv");
    double d[2];
    memcpy(d, dv->init, 16);
    assert_true(d[0] == 1.0 && d[1] == -1.5);
    float fv;
    memcpy(&fv, ptx_module_var(mod, "fv")->init, 4);
    assert_true(fv == 2.5f);
    const struct ptx_function *f = ptx_module_function(mod, "f");
    assert_int_equal(f->params[1].offset, 16);
    assert_int_equal(f->param_size, 24);
    assert_int_equal(f->insns[0].ops[1].index, 0);
    assert_int_equal(f->insns[0].ops[1].imm, 8);
    const struct ptx_function *k = ptx_module_function(mod, "k");
    assert_int_equal(k->params[0].align, 8); /* .ptr .align is the pointee's */
    assert_int_equal(k->params[1].offset, 8);
    assert_int_equal(k->param_size, 16);
    assert_int_equal(k->reqntid[0], 32);
    assert_int_equal(k->reqntid[1], 2);
    assert_int_equal(k->maxnreg, 64);
    const struct ptx_insn *setp = find_insn(k, PTX_OP_SETP, 0);
    assert_true(setp->flags & PTX_F_PAIR_DEST);
    assert_int_equal(setp->boolop, PTX_BOOL_AND);
    assert_int_equal(setp->nops, 5);
    assert_true(setp->ops[4].flags & PTX_OPND_NEG);
    const struct ptx_insn *bra = find_insn(k, PTX_OP_BRA, 0);
    assert_true(bra->flags & PTX_F_GUARD_NEG);
    assert_int_equal(bra->ops[0].index, ptx_function_label(k, "DONE"));
    assert_int_equal(k->insns[bra->ops[0].index].op, PTX_OP_EXIT);
    /* 1.0 given for an f32 move becomes f32 bits. */
    const struct ptx_insn *mv = &k->insns[(bra - k->insns) + 2];
    assert_int_equal(mv->ops[1].imm, 0x3F800000);
    assert_true(mv->ops[1].flags & PTX_IMM_F32);
    const struct ptx_insn *add = &k->insns[(bra - k->insns) + 3];
    assert_true(add->flags & PTX_F_FTZ && add->flags & PTX_F_SAT);
    assert_int_equal(add->rnd, PTX_RND_RN);
    assert_int_equal((uint64_t)add->ops[2].imm, 0xBF800000u);
    const struct ptx_insn *cvt = find_insn(k, PTX_OP_CVT, 0);
    assert_int_equal(cvt->type, PTX_T_S32);
    assert_int_equal(cvt->type2, PTX_T_F32);
    assert_int_equal(cvt->rnd, PTX_RND_RZI);
    const struct ptx_insn *red = find_insn(k, PTX_OP_RED, 0);
    assert_int_equal(red->ops[0].imm, -8);
    assert_int_equal(red->sem, PTX_SEM_RELAXED);
    assert_int_equal(red->scope, PTX_SCOPE_GPU);
    const struct ptx_insn *br = find_insn(k, PTX_OP_BAR, 0);
    assert_int_equal(br->mode, PTX_BAR_RED);
    assert_int_equal(br->boolop, PTX_BOOL_POPC);
    assert_int_equal(find_insn(k, PTX_OP_MEMBAR, 0)->mode, PTX_MEMBAR_GL);
    const struct ptx_insn *ldv = find_insn(k, PTX_OP_LD, 0);
    assert_int_equal(ldv->sem, PTX_SEM_VOLATILE);
    assert_int_equal(ldv->ops[1].rclass, PTX_RC_32);
    const struct ptx_insn *call = find_insn(k, PTX_OP_CALL, 0);
    assert_int_equal(k->xops[call->ops[2].index].index, 0);
    assert_int_equal(k->xops[call->ops[2].index + 1].index, 16);
    assert_int_equal(k->xops[call->ops[0].index].index, 24);
    assert_int_equal(k->nregs[PTX_RC_16], 2 + 2);
    ptx_module_free(mod);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_all_committed_kernels_parse),
        cmocka_unit_test(test_vector_add_decoded),
        cmocka_unit_test(test_devfunc_decoded),
        cmocka_unit_test(test_reduce_decoded),
        cmocka_unit_test(test_sync_decoded),
        cmocka_unit_test(test_misc_decoded),
        cmocka_unit_test(test_rejects_unknown_opcode),
        cmocka_unit_test(test_rejects_bad_operands),
        cmocka_unit_test(test_rejects_structure),
        cmocka_unit_test(test_rejects_huge_numbers),
        cmocka_unit_test(test_missing_header),
        cmocka_unit_test(test_handwritten_forms),
        cmocka_unit_test(test_indirect_call_decoded),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
