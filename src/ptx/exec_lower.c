/*
 * Lowering: turns each parsed function (ptx.h, 128-byte records) into the executor's compact form
 * (exec_internal.h, 40-byte records) once per module: register operands become slots of the warp
 * register file, immediates become constant slots, special registers and symbol addresses used as
 * operands become pseudo-instructions writing temporaries, labels become indices into the new
 * code, and each instruction gets the handler chosen by opcode, type and modifiers. Anything the
 * executor cannot run is rejected here with -EINVAL, naming the instruction and its line.
 */
#include "exec_internal.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct lower {
    struct ptx_program *prog;
    struct xfunc *xf;
    const struct ptx_function *fn;
    uint32_t base[PTX_RC_COUNT];
    uint32_t nextra, capextra;
    uint64_t *extra; /* values of the slots after the registers (constants; 0 for temporaries) */
    uint32_t *hash;  /* constant value -> extra index + 1 */
    uint32_t hashcap;
    struct xinsn *code;
    uint32_t ncode, capcode;
    uint32_t *map; /* parsed index -> first lowered index */
    struct ptx_error *err;
    const struct ptx_insn *pi;
    uint32_t pidx;
};

static int fail(struct lower *L, const char *fmt, ...)
{
    if (L->err) {
        char why[200];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(why, sizeof(why), fmt, ap);
        va_end(ap);
        L->err->line = L->pi ? L->pi->line : L->fn->line;
        L->err->col = 1;
        if (L->pi) {
            const struct ptx_insn *pi = L->pi;
            snprintf(L->err->msg, sizeof(L->err->msg), "%s: '%s%s%s' at line %u: %s", L->fn->name,
                     ptx_op_name(pi->op), pi->type ? "." : "", ptx_type_name(pi->type), pi->line,
                     why);
        } else {
            snprintf(L->err->msg, sizeof(L->err->msg), "%s: %s", L->fn->name, why);
        }
    }
    return -EINVAL;
}

static int unsupported(struct lower *L)
{
    return fail(L, "not supported by the executor");
}

static uint32_t align_up(uint32_t v, uint32_t a)
{
    return (v + a - 1) / a * a;
}

static int grow(void **p, uint32_t *cap, uint32_t need, size_t elem)
{
    if (need <= *cap)
        return 0;
    uint32_t n = *cap ? *cap * 2 : 64;
    while (n < need)
        n *= 2;
    void *q = realloc(*p, (size_t)n * elem);
    if (!q)
        return -ENOMEM;
    *p = q;
    *cap = n;
    return 0;
}

static int new_extra(struct lower *L, uint64_t v, uint32_t *slot)
{
    if (grow((void **)&L->extra, &L->capextra, L->nextra + 1, sizeof(uint64_t)))
        return -ENOMEM;
    L->extra[L->nextra] = v;
    *slot = L->xf->const_base + L->nextra++;
    return 0;
}

static uint64_t mix(uint64_t v)
{
    v ^= v >> 33;
    v *= 0xff51afd7ed558ccdull;
    v ^= v >> 33;
    return v;
}

/* A constant slot holding v (shared by every use of the same value). */
static int const_slot(struct lower *L, uint64_t v, uint32_t *slot)
{
    if (L->nextra * 2 + 2 >= L->hashcap) {
        uint32_t ncap = L->hashcap ? L->hashcap * 2 : 256;
        uint32_t *nh = calloc(ncap, sizeof(uint32_t));
        if (!nh)
            return -ENOMEM;
        free(L->hash);
        L->hash = nh;
        L->hashcap = ncap;
        /* Rehash: only constants were hashed; temporaries are never looked up. Rebuilding from
         * scratch would need to know which is which, so constants re-enter as they are met. */
    }
    uint32_t h = (uint32_t)mix(v) & (L->hashcap - 1);
    while (L->hash[h]) {
        uint32_t e = L->hash[h] - 1;
        if (L->extra[e] == v) {
            *slot = L->xf->const_base + e;
            return 0;
        }
        h = (h + 1) & (L->hashcap - 1);
    }
    int r = new_extra(L, v, slot);
    if (r)
        return r;
    L->hash[h] = *slot - L->xf->const_base + 1;
    return 0;
}

static int emit(struct lower *L, const struct xinsn *x)
{
    if (grow((void **)&L->code, &L->capcode, L->ncode + 1, sizeof(*x)))
        return -ENOMEM;
    L->code[L->ncode] = *x;
    L->code[L->ncode].src = L->pidx;
    L->ncode++;
    return 0;
}

static int list_add(struct ptx_program *p, const uint32_t *v, uint32_t n, uint32_t *idx)
{
    if (grow((void **)&p->lists, &p->caplists, p->nlists + n, sizeof(uint32_t)))
        return -ENOMEM;
    memcpy(p->lists + p->nlists, v, n * sizeof(uint32_t));
    *idx = p->nlists;
    p->nlists += n;
    return 0;
}

static uint64_t width_mask(uint64_t v, unsigned bytes)
{
    return bytes && bytes < 8 ? v & ((1ull << (8 * bytes)) - 1) : v;
}

/* Resolves the address of a symbol operand (ADDR or SYMADDR with sym != NONE, or absolute) into
 * an address mode. *sp is set to the space the address lies in. */
static int lower_symaddr(struct lower *L, const struct ptx_operand *o, struct xinsn *x)
{
    const struct ptx_function *fn = L->fn;
    int kernel = fn->is_entry;
    switch (o->sym) {
    case PTX_SYM_VAR: {
        const struct ptx_var *v = &L->prog->mod->vars[o->index];
        if (v->space == PTX_SPACE_GLOBAL || v->space == PTX_SPACE_CONST) {
            x->am = AM_VAR;
            x->a = o->index;
            x->imm = o->imm;
            x->sp = SP_GLOBAL;
            return 0;
        }
        if (v->space == PTX_SPACE_SHARED) {
            x->am = AM_ABS;
            x->imm = (int64_t)L->prog->shared_off[o->index] + o->imm;
            x->sp = SP_SHARED;
            return 0;
        }
        return fail(L, "variable '%s' in the %s space is not supported", v->name,
                    v->space == PTX_SPACE_LOCAL ? "module .local" : "given");
    }
    case PTX_SYM_LOCAL:
        x->am = AM_FP;
        x->imm = (int64_t)o->index + o->imm;
        x->sp = SP_LOCAL;
        return 0;
    case PTX_SYM_PARAM:
        if (kernel) {
            x->am = AM_KPARAM;
            x->imm = (int64_t)o->index + o->imm;
            x->sp = SP_KPARAM;
        } else {
            x->am = AM_FP;
            x->imm = (int64_t)L->xf->fr_param + o->index + o->imm;
            x->sp = SP_LOCAL;
        }
        return 0;
    case PTX_SYM_RETPARAM:
        x->am = AM_FP;
        x->imm = (int64_t)L->xf->fr_ret + o->index + o->imm;
        x->sp = SP_LOCAL;
        return 0;
    case PTX_SYM_CALLPARAM:
        x->am = AM_FP;
        x->imm = (int64_t)L->xf->fr_callparam + o->index + o->imm;
        x->sp = SP_LOCAL;
        return 0;
    default:
        x->am = AM_ABS;
        x->imm = o->imm;
        x->sp = SP_GENERIC;
        return 0;
    }
}

/* A source operand as a register slot: registers map directly, immediates become constants,
 * special registers and symbol addresses are materialised into a temporary by a pseudo-op. */
static int src_slot(struct lower *L, const struct ptx_operand *o, unsigned bytes, uint32_t *slot)
{
    switch (o->kind) {
    case PTX_OPND_REG:
        if (o->rclass == PTX_RC_PRED)
            return fail(L, "a predicate where a value is expected");
        *slot = L->base[o->rclass] + o->index;
        return 0;
    case PTX_OPND_IMM:
        return const_slot(L, (o->flags & (PTX_IMM_F32 | PTX_IMM_F64)) ? (uint64_t)o->imm
                                                                       : width_mask((uint64_t)o->imm, bytes),
                          slot);
    case PTX_OPND_SREG:
    case PTX_OPND_SYMADDR: {
        uint32_t t;
        int r = new_extra(L, 0, &t);
        if (r)
            return r;
        struct xinsn x = {0};
        x.d = t;
        if (o->kind == PTX_OPND_SREG) {
            x.op = X_SREG;
            x.a = o->index;
            if (o->index >= PTX_SREG_ENVREG0)
                L->xf->reads_envreg = true;
        } else {
            x.op = X_SYMADDR;
            if ((r = lower_symaddr(L, o, &x)))
                return r;
        }
        if ((r = emit(L, &x)))
            return r;
        *slot = t;
        return 0;
    }
    default:
        return fail(L, "operand kind %u not supported here", o->kind);
    }
}

static int dst_slot(struct lower *L, const struct ptx_operand *o, uint32_t *slot)
{
    if (o->kind == PTX_OPND_SINK) {
        *slot = L->xf->sink;
        return 0;
    }
    if (o->kind != PTX_OPND_REG || o->rclass == PTX_RC_PRED)
        return fail(L, "destination must be a value register");
    *slot = L->base[o->rclass] + o->index;
    return 0;
}

static unsigned reg_bytes(const struct ptx_operand *o)
{
    if (o->kind != PTX_OPND_REG)
        return 8;
    return o->rclass == PTX_RC_16 ? 2 : o->rclass == PTX_RC_32 ? 4 : 8;
}

/* A predicate operand: slot, and whether it is negated. Immediate predicates are not accepted. */
static int pred_slot(struct lower *L, const struct ptx_operand *o, uint32_t *slot, int *neg)
{
    if (o->kind == PTX_OPND_SINK) {
        *slot = L->xf->npreds - 1;
        *neg = 0;
        return 0;
    }
    if (o->kind != PTX_OPND_REG || o->rclass != PTX_RC_PRED)
        return fail(L, "a predicate register is expected");
    *slot = o->index;
    *neg = (o->flags & PTX_OPND_NEG) != 0;
    return 0;
}

/* A predicate source operand: its slot in *slot, and negflag (XF_ANEG, XF_BNEG or XF_CNEG) set
 * in x->fl when it is written !%p. */
static int pred_src(struct lower *L, const struct ptx_operand *o, uint32_t *slot, struct xinsn *x,
                    uint8_t negflag)
{
    int neg = 0, r = pred_slot(L, o, slot, &neg);
    if (!r && neg)
        x->fl |= negflag;
    return r;
}

/* The predicate half of a "d|p" destination pair (setp, shfl.sync, match.all) when the
 * instruction has one: its slot in x->aux, else UINT32_MAX there. *k indexes the operand and
 * moves past it. */
static int pair_dest(struct lower *L, unsigned *k, struct xinsn *x)
{
    int neg;
    x->aux = UINT32_MAX;
    if (!(L->pi->flags & PTX_F_PAIR_DEST))
        return 0;
    return pred_slot(L, &L->pi->ops[(*k)++], &x->aux, &neg);
}

static int is_signed_t(unsigned t)
{
    return t == PTX_T_S8 || t == PTX_T_S16 || t == PTX_T_S32 || t == PTX_T_S64;
}

static int is_int_t(unsigned t)
{
    return (t >= PTX_T_B8 && t <= PTX_T_S64 && t != PTX_T_B128);
}

static int is_half_t(unsigned t)
{
    return t == PTX_T_F16 || t == PTX_T_F16X2 || t == PTX_T_BF16 || t == PTX_T_BF16X2;
}

/* The run-time space of an access in PTX state space space; a .param access is to the kernel's
 * parameters in a kernel, to the frame (local memory) in a function. */
static uint8_t access_sp(unsigned space, int kernel)
{
    switch (space) {
    case PTX_SPACE_GLOBAL:
    case PTX_SPACE_CONST:
        return SP_GLOBAL;
    case PTX_SPACE_SHARED:
        return SP_SHARED;
    case PTX_SPACE_LOCAL:
        return SP_LOCAL;
    case PTX_SPACE_PARAM:
        return kernel ? SP_KPARAM : SP_LOCAL;
    default:
        return SP_GENERIC;
    }
}

/* Memory address operand -> am/sp/a/imm of x. */
static int lower_addr(struct lower *L, const struct ptx_operand *o, unsigned space, struct xinsn *x)
{
    int kernel = L->fn->is_entry;
    int r;
    if (o->kind != PTX_OPND_ADDR)
        return fail(L, "an address operand is expected");
    if (o->sym != PTX_SYM_NONE || o->rclass == 0xff) {
        if ((r = lower_symaddr(L, o, x)))
            return r;
        /* A symbol's access keeps the space lower_symaddr gave it (with a generic access too,
         * it translates in the symbol's own space); an absolute address is in the instruction's
         * own space, a function's .param one relative to its frame. */
        if (o->sym == PTX_SYM_NONE) {
            x->sp = access_sp(space, kernel);
            if (space == PTX_SPACE_PARAM && !kernel)
                x->am = AM_FP;
        }
        return 0;
    }
    x->am = AM_REG;
    x->a = L->base[o->rclass] + o->index;
    x->imm = o->imm;
    x->sp = access_sp(space, kernel);
    return 0;
}

static void guard_of(struct lower *L, struct xinsn *x)
{
    const struct ptx_insn *pi = L->pi;
    if (pi->guard >= 0) {
        x->guard = (uint16_t)(pi->guard + 1);
        if (pi->flags & PTX_F_GUARD_NEG)
            x->fl |= XF_GNEG;
    }
}

/* Vector operand elements -> a list of slots. For destinations, '_' gives the sink. */
static int vec_list(struct lower *L, const struct ptx_operand *o, int dest, unsigned bytes,
                    uint32_t *idx, uint32_t *count)
{
    const struct ptx_function *fn = L->fn;
    uint32_t slots[8];
    uint32_t n = (uint32_t)o->imm;
    if (n > 8)
        return fail(L, "vector too long");
    for (uint32_t i = 0; i < n; i++) {
        const struct ptx_operand *e = &fn->xops[o->index + i];
        int r = dest ? dst_slot(L, e, &slots[i]) : src_slot(L, e, bytes, &slots[i]);
        if (r)
            return r;
    }
    *count = n;
    return list_add(L->prog, slots, n, idx);
}

static int lower_mem(struct lower *L, struct xinsn *x)
{
    const struct ptx_insn *pi = L->pi;
    unsigned bytes = ptx_type_size(pi->type);
    int st = pi->op == PTX_OP_ST;
    const struct ptx_operand *addr = &pi->ops[st ? 0 : 1];
    const struct ptx_operand *val = &pi->ops[st ? 1 : 0];
    int r;
    if (bytes == 0 || bytes > 8)
        return unsupported(L);
    if (pi->type == PTX_T_PRED)
        return unsupported(L);
    x->op = st ? X_ST : X_LD;
    x->w = (uint8_t)bytes;
    if (is_signed_t(pi->type))
        x->fl |= XF_ANEG; /* sign-extend loads */
    if ((r = lower_addr(L, addr, pi->space, x)))
        return r;
    if (val->kind == PTX_OPND_VEC) {
        uint32_t idx = 0, n = 0;
        if ((r = vec_list(L, val, !st, bytes, &idx, &n)))
            return r;
        x->aux = idx;
        x->c = n;
        x->b = n ? reg_bytes(&L->fn->xops[val->index]) : 8;
    } else {
        x->c = 1;
        if (st)
            r = src_slot(L, val, bytes, &x->d);
        else
            r = dst_slot(L, val, &x->d);
        if (r)
            return r;
        uint32_t idx;
        if ((r = list_add(L->prog, &x->d, 1, &idx)))
            return r;
        x->aux = idx;
        x->b = reg_bytes(val);
    }
    return 0;
}

static int lower_mov(struct lower *L, struct xinsn *x)
{
    const struct ptx_insn *pi = L->pi;
    const struct ptx_operand *d = &pi->ops[0], *s = &pi->ops[1];
    unsigned bytes = ptx_type_size(pi->type);
    int r, neg = 0;
    if (pi->type == PTX_T_PRED) {
        x->op = X_MOVP;
        if ((r = pred_slot(L, d, &x->d, &neg)))
            return r;
        if (s->kind == PTX_OPND_IMM) {
            x->imm = s->imm ? 1 : 0;
            x->w = 1;
            return 0;
        }
        return pred_src(L, s, &x->a, x, XF_ANEG);
    }
    if (d->kind == PTX_OPND_VEC) {
        uint32_t idx = 0, n = 0;
        if ((r = vec_list(L, d, 1, 0, &idx, &n)))
            return r;
        if (!n || bytes % n)
            return unsupported(L);
        x->op = X_UNPACK;
        x->aux = idx;
        x->c = n;
        x->w = (uint8_t)(bytes / n);
        return src_slot(L, s, bytes, &x->a);
    }
    if ((r = dst_slot(L, d, &x->d)))
        return r;
    if (s->kind == PTX_OPND_VEC) {
        uint32_t idx = 0, n = 0;
        if ((r = vec_list(L, s, 0, 0, &idx, &n)))
            return r;
        if (!n || bytes % n)
            return unsupported(L);
        x->op = X_PACK;
        x->aux = idx;
        x->c = n;
        x->w = (uint8_t)(bytes / n);
        return 0;
    }
    if (s->kind == PTX_OPND_SREG) {
        x->op = X_SREG;
        x->a = s->index;
        if (s->index >= PTX_SREG_ENVREG0)
            L->xf->reads_envreg = true;
        return 0;
    }
    if (s->kind == PTX_OPND_SYMADDR)
        return x->op = X_SYMADDR, lower_symaddr(L, s, x);
    if (s->kind == PTX_OPND_FUNC) {
        if (bytes != 8)
            return fail(L, "a function address needs a 64-bit destination");
        x->op = X_MOV;
        x->w = 8;
        return const_slot(L, PTX_FUNC_ADDR(s->index), &x->a);
    }
    x->op = X_MOV;
    x->w = (uint8_t)(bytes ? bytes : 8);
    return src_slot(L, s, bytes, &x->a);
}

/* The warp-wide fast paths of the arithmetic ops that have them: the 32/64-bit integer forms,
 * taken when the modifiers are exactly int_flags (none for add/sub, .lo for mul/mad); the
 * .wide.s32/.wide.u32 forms; and the f32/f64 forms, taken for round-to-nearest with no other
 * modifier. X_ALU where the op has no such form. */
static const struct arith_fast {
    unsigned op, int_flags;
    uint16_t i32, i64, wide_s32, wide_u32, f32, f64;
} arith_fast[] = {
    {PTX_OP_ADD, 0, X_ADD32, X_ADD64, X_ALU, X_ALU, X_ADDF32, X_ADDF64},
    {PTX_OP_SUB, 0, X_SUB32, X_SUB64, X_ALU, X_ALU, X_SUBF32, X_SUBF64},
    {PTX_OP_MUL, PTX_F_LO, X_MULLO32, X_MULLO64, X_MULWIDE_S32, X_MULWIDE_U32, X_MULF32, X_MULF64},
    {PTX_OP_MAD, PTX_F_LO, X_MADLO32, X_MADLO64, X_MADWIDE_S32, X_MADWIDE_U32, X_FMAF32, X_FMAF64},
    {PTX_OP_FMA, 0, X_ALU, X_ALU, X_ALU, X_ALU, X_FMAF32, X_FMAF64},
};

/* The lowered opcode of arithmetic op on type t with modifiers f (rn: round to nearest). */
static uint16_t arith_fast_path(unsigned op, unsigned t, unsigned f, int rn)
{
    int isint = t == PTX_T_S32 || t == PTX_T_U32 || t == PTX_T_B32 || t == PTX_T_S64 ||
                t == PTX_T_U64 || t == PTX_T_B64;
    for (size_t i = 0; i < sizeof(arith_fast) / sizeof(arith_fast[0]); i++) {
        const struct arith_fast *a = &arith_fast[i];
        if (a->op != op)
            continue;
        if (isint && f == a->int_flags)
            return ptx_type_size(t) == 8 ? a->i64 : a->i32;
        if (f == PTX_F_WIDE && t == PTX_T_S32)
            return a->wide_s32;
        if (f == PTX_F_WIDE && t == PTX_T_U32)
            return a->wide_u32;
        if (rn && !f && t == PTX_T_F32)
            return a->f32;
        if (rn && !f && t == PTX_T_F64)
            return a->f64;
        break;
    }
    return X_ALU;
}

static int lower_alu(struct lower *L, struct xinsn *x)
{
    const struct ptx_insn *pi = L->pi;
    unsigned t = pi->type, bytes = ptx_type_size(t);
    uint32_t *srcs[4] = {&x->a, &x->b, &x->c, &x->aux};
    int r;
    if (!xalu_supported(pi))
        return unsupported(L);
    if ((r = dst_slot(L, &pi->ops[0], &x->d)))
        return r;
    unsigned nsrc = pi->nops - 1;
    if (nsrc > 4)
        return unsupported(L);
    for (unsigned i = 0; i < nsrc; i++) {
        unsigned b = bytes;
        /* Shift counts, bit positions and lengths are u32 operands; dp4a/dp2a accumulators too. */
        if ((pi->op == PTX_OP_SHL || pi->op == PTX_OP_SHR) && i == 1)
            b = 4;
        if ((pi->op == PTX_OP_BFE || pi->op == PTX_OP_BFI || pi->op == PTX_OP_SHF ||
             pi->op == PTX_OP_PRMT || pi->op == PTX_OP_LOP3 || pi->op == PTX_OP_DP4A ||
             pi->op == PTX_OP_DP2A) &&
            i >= 1)
            b = 4;
        if ((pi->flags & PTX_F_WIDE) && i == 2)
            b = bytes * 2;
        if ((r = src_slot(L, &pi->ops[1 + i], b, srcs[i])))
            return r;
    }
    x->op = X_ALU;
    /* Pick a warp-wide fast path where one exists. */
    unsigned f = pi->flags & ~(PTX_F_GUARD_NEG | PTX_F_CACHE);
    int rn = pi->rnd == PTX_RND_NONE || pi->rnd == PTX_RND_RN;
    switch (pi->op) {
    case PTX_OP_ADD: case PTX_OP_SUB: case PTX_OP_MUL: case PTX_OP_MAD: case PTX_OP_FMA:
        x->op = arith_fast_path(pi->op, t, f, rn);
        break;
    case PTX_OP_AND:
        x->op = X_AND;
        break;
    case PTX_OP_OR:
        x->op = X_OR;
        break;
    case PTX_OP_XOR:
        x->op = X_XOR;
        break;
    case PTX_OP_SHL:
        if (bytes == 4)
            x->op = X_SHL32;
        else if (bytes == 8)
            x->op = X_SHL64;
        break;
    case PTX_OP_SHR:
        if (bytes == 4)
            x->op = is_signed_t(t) ? X_SHRS32 : X_SHRU32;
        else if (bytes == 8)
            x->op = is_signed_t(t) ? X_SHRS64 : X_SHRU64;
        break;
    default:
        break;
    }
    return 0;
}

static int lower_setp(struct lower *L, struct xinsn *x)
{
    const struct ptx_insn *pi = L->pi;
    unsigned t = pi->type;
    int r, neg = 0;
    unsigned k = 0;
    if ((r = pred_slot(L, &pi->ops[k++], &x->d, &neg)) || (r = pair_dest(L, &k, x)))
        return r;
    unsigned bytes = ptx_type_size(t);
    if ((r = src_slot(L, &pi->ops[k++], bytes, &x->a)) ||
        (r = src_slot(L, &pi->ops[k++], bytes, &x->b)))
        return r;
    x->c = UINT32_MAX;
    if (k < pi->nops) {
        if ((r = pred_src(L, &pi->ops[k], &x->c, x, XF_CNEG)))
            return r;
        if (pi->boolop == PTX_BOOL_NONE)
            return unsupported(L);
    }
    x->w = pi->cmp;
    x->am = pi->boolop;
    unsigned f = pi->flags & ~(PTX_F_GUARD_NEG | PTX_F_PAIR_DEST);
    if (is_int_t(t)) {
        x->op = X_SETP_I;
        x->sp = (uint8_t)(is_signed_t(t) ? bytes | 0x80 : bytes);
        if (pi->cmp >= PTX_CMP_EQU)
            return unsupported(L);
    } else if (t == PTX_T_F32 && !f) {
        x->op = X_SETP_F32;
    } else if (t == PTX_T_F64 && !f) {
        x->op = X_SETP_F64;
    } else if (t == PTX_T_F32 || t == PTX_T_F64 || is_half_t(t)) {
        x->op = X_SETP_X;
    } else {
        return unsupported(L);
    }
    return 0;
}

static int lower_insn(struct lower *L)
{
    const struct ptx_insn *pi = L->pi;
    struct xinsn x = {0};
    int r = 0, neg = 0;
    guard_of(L, &x);
    switch (pi->op) {
    case PTX_OP_MOV:
        r = lower_mov(L, &x);
        break;
    case PTX_OP_ADD: case PTX_OP_ADDC: case PTX_OP_SUB: case PTX_OP_SUBC: case PTX_OP_MUL:
    case PTX_OP_MAD: case PTX_OP_MADC: case PTX_OP_MUL24: case PTX_OP_MAD24: case PTX_OP_SAD:
    case PTX_OP_FMA: case PTX_OP_DIV: case PTX_OP_REM: case PTX_OP_NEG: case PTX_OP_ABS:
    case PTX_OP_MIN: case PTX_OP_MAX: case PTX_OP_SQRT: case PTX_OP_RSQRT: case PTX_OP_RCP:
    case PTX_OP_SIN: case PTX_OP_COS: case PTX_OP_LG2: case PTX_OP_EX2: case PTX_OP_TANH:
    case PTX_OP_COPYSIGN: case PTX_OP_CNOT: case PTX_OP_LOP3: case PTX_OP_SHL: case PTX_OP_SHR:
    case PTX_OP_SHF: case PTX_OP_POPC: case PTX_OP_CLZ: case PTX_OP_BREV: case PTX_OP_BFIND:
    case PTX_OP_BFE: case PTX_OP_BFI: case PTX_OP_PRMT: case PTX_OP_DP4A: case PTX_OP_DP2A:
        r = lower_alu(L, &x);
        break;
    case PTX_OP_TESTP:
        if (!xalu_supported(pi))
            return unsupported(L);
        if ((r = pred_slot(L, &pi->ops[0], &x.d, &neg)))
            return r;
        x.op = X_SETP_X; /* testp writes a predicate: handled with the comparisons */
        x.w = 0xff;
        x.aux = UINT32_MAX;
        x.c = UINT32_MAX;
        r = src_slot(L, &pi->ops[1], ptx_type_size(pi->type), &x.a);
        x.b = x.a;
        break;
    case PTX_OP_AND: case PTX_OP_OR: case PTX_OP_XOR: case PTX_OP_NOT:
        if (pi->type == PTX_T_PRED) {
            x.op = X_PLOGIC;
            x.w = (uint8_t)pi->op;
            if ((r = pred_slot(L, &pi->ops[0], &x.d, &neg)) ||
                (r = pred_src(L, &pi->ops[1], &x.a, &x, XF_ANEG)))
                return r;
            if (pi->op != PTX_OP_NOT)
                r = pred_src(L, &pi->ops[2], &x.b, &x, XF_BNEG);
        } else {
            r = lower_alu(L, &x);
        }
        break;
    case PTX_OP_SETP:
        r = lower_setp(L, &x);
        break;
    case PTX_OP_SET: {
        unsigned st = pi->type2;
        if ((r = dst_slot(L, &pi->ops[0], &x.d)))
            return r;
        if ((r = src_slot(L, &pi->ops[1], ptx_type_size(st), &x.a)) ||
            (r = src_slot(L, &pi->ops[2], ptx_type_size(st), &x.b)))
            return r;
        x.c = UINT32_MAX;
        if (pi->nops > 3 && (r = pred_src(L, &pi->ops[3], &x.c, &x, XF_CNEG)))
            return r;
        x.op = X_SET;
        x.am = pi->boolop;
        break;
    }
    case PTX_OP_SELP:
        x.op = X_SELP;
        x.w = (uint8_t)ptx_type_size(pi->type);
        if ((r = dst_slot(L, &pi->ops[0], &x.d)) ||
            (r = src_slot(L, &pi->ops[1], x.w, &x.a)) ||
            (r = src_slot(L, &pi->ops[2], x.w, &x.b)) ||
            (r = pred_src(L, &pi->ops[3], &x.c, &x, XF_CNEG)))
            return r;
        break;
    case PTX_OP_SLCT:
        x.op = X_SLCT;
        x.w = (uint8_t)ptx_type_size(pi->type);
        if ((r = dst_slot(L, &pi->ops[0], &x.d)) ||
            (r = src_slot(L, &pi->ops[1], x.w, &x.a)) ||
            (r = src_slot(L, &pi->ops[2], x.w, &x.b)) ||
            (r = src_slot(L, &pi->ops[3], 4, &x.c)))
            return r;
        break;
    case PTX_OP_CVT: {
        unsigned dt = pi->type, st = pi->type2;
        if (dt == PTX_T_PRED || st == PTX_T_PRED || dt == PTX_T_B128 || st == PTX_T_B128)
            return unsupported(L);
        if (pi->nops == 3) {
            /* cvt.rn.f16x2.f32 d, a, b: d = {cvt(a) high, cvt(b) low}. */
            if (dt != PTX_T_F16X2 && dt != PTX_T_BF16X2)
                return unsupported(L);
            if ((r = dst_slot(L, &pi->ops[0], &x.d)) ||
                (r = src_slot(L, &pi->ops[1], ptx_type_size(st), &x.a)) ||
                (r = src_slot(L, &pi->ops[2], ptx_type_size(st), &x.b)))
                return r;
            x.op = X_CVT;
            x.w = 2;
            x.sp = 4;
            break;
        }
        if ((r = dst_slot(L, &pi->ops[0], &x.d)) ||
            (r = src_slot(L, &pi->ops[1], ptx_type_size(st), &x.a)))
            return r;
        unsigned rb = reg_bytes(&pi->ops[0]);
        x.sp = (uint8_t)rb;
        unsigned f = pi->flags & ~(PTX_F_GUARD_NEG);
        if (is_int_t(dt) && is_int_t(st) && !f) {
            x.op = is_signed_t(st) ? X_CVT_SX : X_CVT_ZX;
            x.w = (uint8_t)ptx_type_size(st);
            x.am = (uint8_t)ptx_type_size(dt);
            if (is_signed_t(dt))
                x.fl |= XF_ANEG;
        } else {
            x.op = X_CVT;
        }
        break;
    }
    case PTX_OP_CVTA: {
        int to = (pi->flags & PTX_F_TO) != 0;
        int64_t win = 0;
        switch (pi->space) {
        case PTX_SPACE_SHARED: win = (int64_t)PTX_SHARED_WINDOW; break;
        case PTX_SPACE_LOCAL: win = (int64_t)PTX_LOCAL_WINDOW; break;
        case PTX_SPACE_PARAM:
            win = (int64_t)(L->fn->is_entry ? XW_PARAM_WINDOW : PTX_LOCAL_WINDOW);
            break;
        case PTX_SPACE_GLOBAL: case PTX_SPACE_CONST: win = 0; break;
        default: return unsupported(L);
        }
        x.op = X_CVTA;
        x.imm = to ? -win : win;
        x.w = (uint8_t)ptx_type_size(pi->type);
        if ((r = dst_slot(L, &pi->ops[0], &x.d)) ||
            (r = src_slot(L, &pi->ops[1], 8, &x.a)))
            return r;
        break;
    }
    case PTX_OP_ISSPACEP:
        x.op = X_ISSPACEP;
        x.sp = pi->space;
        if ((r = pred_slot(L, &pi->ops[0], &x.d, &neg)) ||
            (r = src_slot(L, &pi->ops[1], 8, &x.a)))
            return r;
        break;
    case PTX_OP_LD: case PTX_OP_LDU: case PTX_OP_ST:
        r = lower_mem(L, &x);
        break;
    case PTX_OP_PREFETCH:
        x.op = X_NOP;
        break;
    case PTX_OP_ATOM: case PTX_OP_RED: {
        unsigned bytes = ptx_type_size(pi->type);
        unsigned k = 0;
        if (bytes != 2 && bytes != 4 && bytes != 8)
            return unsupported(L);
        x.op = X_ATOM;
        x.w = (uint8_t)bytes;
        if (pi->op == PTX_OP_ATOM) {
            if ((r = dst_slot(L, &pi->ops[k++], &x.d)))
                return r;
        } else {
            x.d = L->xf->sink;
        }
        if ((r = lower_addr(L, &pi->ops[k++], pi->space, &x)))
            return r;
        if (x.sp == SP_KPARAM || x.sp == SP_LOCAL)
            return unsupported(L);
        if ((r = src_slot(L, &pi->ops[k++], bytes, &x.b)))
            return r;
        x.c = x.b;
        if (k < pi->nops && (r = src_slot(L, &pi->ops[k++], bytes, &x.c)))
            return r;
        /* The operation, checked here so nothing unknown runs. */
        int isf = pi->type == PTX_T_F32 || pi->type == PTX_T_F64 || is_half_t(pi->type);
        switch (pi->mode) {
        case PTX_ATOM_ADD: case PTX_ATOM_MIN: case PTX_ATOM_MAX: break;
        case PTX_ATOM_INC: case PTX_ATOM_DEC:
            if (pi->type != PTX_T_U32)
                return unsupported(L);
            break;
        case PTX_ATOM_CAS: case PTX_ATOM_EXCH: case PTX_ATOM_AND: case PTX_ATOM_OR:
        case PTX_ATOM_XOR:
            if (isf && pi->mode != PTX_ATOM_EXCH && pi->mode != PTX_ATOM_CAS)
                return unsupported(L);
            break;
        default:
            return unsupported(L);
        }
        if (bytes == 2 && !is_half_t(pi->type) && pi->mode != PTX_ATOM_CAS &&
            pi->mode != PTX_ATOM_EXCH)
            return unsupported(L);
        break;
    }
    case PTX_OP_BRA:
        x.op = X_BRA;
        x.aux = pi->ops[0].index; /* fixed up to a lowered index below */
        break;
    case PTX_OP_CALL: {
        unsigned fi = pi->ops[0].kind == PTX_OPND_LIST ? 1 : 0;
        const struct ptx_operand *rets = fi ? &pi->ops[0] : NULL;
        const struct ptx_operand *args = pi->nops > fi + 1 ? &pi->ops[fi + 1] : NULL;
        bool indirect = pi->ops[fi].kind == PTX_OPND_REG;
        if (indirect && args && args->kind != PTX_OPND_LIST)
            args = NULL; /* call (r), %rd, proto: no arguments */
        uint32_t callee = indirect ? XCALL_INDIRECT : pi->ops[fi].index;
        const struct ptx_function *cf = indirect ? NULL : &L->prog->mod->funcs[callee];
        uint32_t buf[2 + 2 * 64];
        uint32_t na = args ? (uint32_t)args->imm : 0, nr = rets ? (uint32_t)rets->imm : 0;
        if (na > 64 || nr > 64)
            return fail(L, "too many call arguments");
        if (indirect) {
            const struct ptx_proto *pr = &L->fn->protos[pi->ops[pi->nops - 1].index];
            if (na != pr->nparams || nr != pr->nrets)
                return fail(L, "indirect call with %u arguments and %u results through "
                            "prototype '%s', which takes %u and %u", na, nr, pr->name,
                            pr->nparams, pr->nrets);
            x.b = L->base[PTX_RC_64] + pi->ops[fi].index;
            x.c = pi->ops[pi->nops - 1].index;
        } else if (cf->defined && (na != cf->nparams || nr != cf->nrets))
            return fail(L, "call of '%s' with %u arguments and %u results; it takes %u and %u",
                        cf->name, na, nr, cf->nparams, cf->nrets);
        buf[0] = na;
        for (uint32_t i = 0; i < na; i++) {
            const struct ptx_operand *e = &L->fn->xops[args->index + i];
            if (e->kind != PTX_OPND_SYMADDR || e->sym != PTX_SYM_CALLPARAM)
                return fail(L, "call arguments must be .param variables");
            buf[1 + i] = L->xf->fr_callparam + e->index;
        }
        buf[1 + na] = nr;
        for (uint32_t i = 0; i < nr; i++) {
            const struct ptx_operand *e = &L->fn->xops[rets->index + i];
            if (e->kind != PTX_OPND_SYMADDR || e->sym != PTX_SYM_CALLPARAM)
                return fail(L, "call results must be .param variables");
            buf[2 + na + i] = L->xf->fr_callparam + e->index;
        }
        x.op = X_CALL;
        x.a = callee;
        if (cf && !cf->defined) {
            const char *n = cf->name;
            if (strcmp(n, "vprintf") && strcmp(n, "__assertfail"))
                return fail(L, "call of '%s', which has no body and is not a built-in", n);
        }
        r = list_add(L->prog, buf, 2 + na + nr, &x.aux);
        break;
    }
    case PTX_OP_RET:
        x.op = L->fn->is_entry ? X_EXIT : X_RET;
        break;
    case PTX_OP_EXIT:
        x.op = X_EXIT;
        break;
    case PTX_OP_TRAP:
        x.op = X_TRAP;
        break;
    case PTX_OP_BRKPT:
        x.op = X_TRAP;
        x.w = 1;
        break;
    case PTX_OP_BAR: case PTX_OP_BARRIER: {
        unsigned k = 0;
        x.op = X_BAR;
        x.w = pi->mode == PTX_MODE_NONE ? PTX_BAR_SYNC : pi->mode;
        x.d = UINT32_MAX;
        x.b = UINT32_MAX;
        x.c = UINT32_MAX;
        if (x.w == PTX_BAR_RED) {
            if (pi->type == PTX_T_PRED) {
                if ((r = pred_slot(L, &pi->ops[k++], &x.d, &neg)))
                    return r;
                x.sp = 1;
            } else if ((r = dst_slot(L, &pi->ops[k++], &x.d))) {
                return r;
            }
            x.am = pi->boolop;
        }
        if ((r = src_slot(L, &pi->ops[k++], 4, &x.a)))
            return r;
        unsigned left = pi->nops - k;
        if (x.w == PTX_BAR_RED) {
            if (left == 2 && (r = src_slot(L, &pi->ops[k++], 4, &x.b)))
                return r;
            if (k >= pi->nops)
                return unsupported(L);
            if ((r = pred_src(L, &pi->ops[k], &x.c, &x, XF_CNEG)))
                return r;
        } else if (left >= 1) {
            if ((r = src_slot(L, &pi->ops[k], 4, &x.b)))
                return r;
        }
        break;
    }
    case PTX_OP_BAR_WARP:
        x.op = X_WARPSYNC;
        break;
    case PTX_OP_MEMBAR: case PTX_OP_FENCE:
        x.op = X_FENCE;
        break;
    case PTX_OP_NANOSLEEP:
        x.op = X_NANOSLEEP;
        break;
    case PTX_OP_ACTIVEMASK:
        x.op = X_ACTIVEMASK;
        r = dst_slot(L, &pi->ops[0], &x.d);
        break;
    case PTX_OP_SHFL: {
        unsigned k = 0;
        x.op = X_SHFL;
        x.w = pi->mode;
        if ((r = dst_slot(L, &pi->ops[k++], &x.d)) || (r = pair_dest(L, &k, &x)))
            return r;
        if (pi->nops - k < 3)
            return unsupported(L);
        if ((r = src_slot(L, &pi->ops[k++], 4, &x.a)) ||
            (r = src_slot(L, &pi->ops[k++], 4, &x.b)) ||
            (r = src_slot(L, &pi->ops[k++], 4, &x.c)))
            return r;
        break;
    }
    case PTX_OP_VOTE:
        x.op = X_VOTE;
        x.w = pi->mode;
        if (pi->mode == PTX_VOTE_BALLOT)
            r = dst_slot(L, &pi->ops[0], &x.d);
        else
            r = pred_slot(L, &pi->ops[0], &x.d, &neg);
        if (r)
            return r;
        r = pred_src(L, &pi->ops[1], &x.a, &x, XF_ANEG);
        break;
    case PTX_OP_MATCH: {
        unsigned k = 0;
        x.op = X_MATCH;
        x.w = pi->mode;
        x.sp = (uint8_t)ptx_type_size(pi->type);
        if ((r = dst_slot(L, &pi->ops[k++], &x.d)) || (r = pair_dest(L, &k, &x)))
            return r;
        if ((r = src_slot(L, &pi->ops[k], x.sp, &x.a)))
            return r;
        if (pi->mode != PTX_VOTE_ALL && pi->mode != PTX_VOTE_ANY)
            return unsupported(L);
        break;
    }
    case PTX_OP_REDUX:
        x.op = X_REDUX;
        x.w = pi->mode;
        if (ptx_type_size(pi->type) != 4)
            return unsupported(L);
        switch (pi->mode) {
        case PTX_ATOM_ADD: case PTX_ATOM_MIN: case PTX_ATOM_MAX: case PTX_ATOM_AND:
        case PTX_ATOM_OR: case PTX_ATOM_XOR: break;
        default: return unsupported(L);
        }
        if ((r = dst_slot(L, &pi->ops[0], &x.d)) ||
            (r = src_slot(L, &pi->ops[1], 4, &x.a)))
            return r;
        break;
    default:
        return unsupported(L);
    }
    if (r)
        return r;
    return emit(L, &x);
}

static int lower_function(struct ptx_program *prog, uint32_t index, struct ptx_error *err)
{
    const struct ptx_function *fn = &prog->mod->funcs[index];
    struct xfunc *xf = &prog->funcs[index];
    struct lower L = {.prog = prog, .xf = xf, .fn = fn, .err = err};
    int r = 0;
    xf->fn = fn;
    if (!fn->defined) {
        if (!strcmp(fn->name, "vprintf"))
            xf->builtin = XB_VPRINTF;
        else if (!strcmp(fn->name, "__assertfail"))
            xf->builtin = XB_ASSERTFAIL;
        return 0;
    }
    L.base[PTX_RC_16] = 0;
    L.base[PTX_RC_32] = fn->nregs[PTX_RC_16];
    L.base[PTX_RC_64] = L.base[PTX_RC_32] + fn->nregs[PTX_RC_32];
    xf->const_base = L.base[PTX_RC_64] + fn->nregs[PTX_RC_64];
    xf->npreds = fn->nregs[PTX_RC_PRED] + 1;
    uint32_t lsz = align_up(fn->local_size, 16);
    xf->fr_callparam = lsz;
    xf->fr_param = xf->fr_callparam + align_up(fn->callparam_size, 16);
    xf->fr_ret = xf->fr_param + (fn->is_entry ? 0 : align_up(fn->param_size, 16));
    xf->frame_bytes = xf->fr_ret + (fn->is_entry ? 0 : align_up(fn->ret_size, 16));
    if ((r = new_extra(&L, 0, &xf->sink)))
        goto out;
    L.map = calloc(fn->ninsns + 1, sizeof(uint32_t));
    if (!L.map) {
        r = -ENOMEM;
        goto out;
    }
    for (uint32_t i = 0; i < fn->ninsns; i++) {
        L.pidx = i;
        L.pi = &fn->insns[i];
        L.map[i] = L.ncode;
        if ((r = lower_insn(&L)))
            goto out;
    }
    L.map[fn->ninsns] = L.ncode;
    L.pi = NULL;
    /* Falling off the end returns (a .func) or exits (a kernel). */
    {
        struct xinsn x = {0};
        x.op = fn->is_entry ? X_EXIT : X_RET;
        L.pidx = fn->ninsns ? fn->ninsns - 1 : 0;
        if ((r = emit(&L, &x)))
            goto out;
    }
    for (uint32_t i = 0; i < L.ncode; i++) {
        if (L.code[i].op == X_BRA)
            L.code[i].aux = L.map[L.code[i].aux];
    }
    xf->code = L.code;
    xf->ncode = L.ncode;
    L.code = NULL;
    xf->nconst = L.nextra;
    xf->consts = L.extra;
    L.extra = NULL;
    xf->nslots = xf->const_base + xf->nconst;
out:
    free(L.code);
    free(L.extra);
    free(L.hash);
    free(L.map);
    return r;
}

/* Stack bytes a call of f needs (its frame and its deepest callees'); recursion gets a bound. */
static uint32_t stack_need(struct ptx_program *prog, uint32_t fi)
{
    struct xfunc *xf = &prog->funcs[fi];
    if (!xf->fn || !xf->fn->defined)
        return 0;
    if (xf->visiting == 2)
        return xf->stack_need;
    if (xf->visiting == 1) {
        xf->recursive = true;
        return 0;
    }
    xf->visiting = 1;
    uint32_t deepest = 0;
    for (uint32_t i = 0; i < xf->ncode; i++) {
        if (xf->code[i].op != X_CALL)
            continue;
        if (xf->code[i].a == XCALL_INDIRECT) {
            /* Any function may be the target: take the deepest, and the recursion allowance,
             * since a call through a pointer may come back here. */
            xf->recursive = true;
            for (uint32_t j = 0; j < prog->mod->nfuncs; j++) {
                if (prog->mod->funcs[j].is_entry)
                    continue;
                uint32_t n = stack_need(prog, j);
                if (n > deepest)
                    deepest = n;
            }
            continue;
        }
        uint32_t n = stack_need(prog, xf->code[i].a);
        if (prog->funcs[xf->code[i].a].recursive || prog->funcs[xf->code[i].a].visiting == 1)
            xf->recursive = true;
        if (n > deepest)
            deepest = n;
        if (prog->funcs[xf->code[i].a].reads_envreg)
            xf->reads_envreg = true;
    }
    xf->visiting = 2;
    xf->stack_need = xf->frame_bytes + deepest;
    return xf->stack_need;
}

int ptx_program_new(const struct ptx_module *mod, struct ptx_program **out, struct ptx_error *err)
{
    struct ptx_program *p = calloc(1, sizeof(*p));
    int r = 0;
    if (err)
        memset(err, 0, sizeof(*err));
    if (!p)
        return -ENOMEM;
    p->mod = mod;
    p->funcs = calloc(mod->nfuncs ? mod->nfuncs : 1, sizeof(*p->funcs));
    p->shared_off = calloc(mod->nvars ? mod->nvars : 1, sizeof(uint64_t));
    if (!p->funcs || !p->shared_off) {
        r = -ENOMEM;
        goto fail;
    }
    /* Static shared layout: every sized .shared variable of the module, in declaration order;
     * dynamic shared memory (all unsized .extern .shared arrays) follows, 16-aligned. */
    uint64_t off = 0;
    for (uint32_t i = 0; i < mod->nvars; i++) {
        const struct ptx_var *v = &mod->vars[i];
        if (v->space == PTX_SPACE_SHARED && !v->unsized) {
            uint64_t a = v->align ? v->align : 1;
            off = (off + a - 1) / a * a;
            p->shared_off[i] = off;
            off += v->size;
        } else if (v->space == PTX_SPACE_CONST) {
            p->const_bytes += (uint32_t)v->size;
        }
    }
    if (off > (1u << 30)) {
        r = -EINVAL;
        if (err)
            snprintf(err->msg, sizeof(err->msg), "static shared memory of %llu bytes is too large",
                     (unsigned long long)off);
        goto fail;
    }
    p->static_shared = (uint32_t)((off + 15) / 16 * 16);
    for (uint32_t i = 0; i < mod->nvars; i++)
        if (mod->vars[i].space == PTX_SPACE_SHARED && mod->vars[i].unsized)
            p->shared_off[i] = p->static_shared;
    for (uint32_t i = 0; i < mod->nfuncs; i++)
        if ((r = lower_function(p, i, err)))
            goto fail;
    for (uint32_t i = 0; i < mod->nfuncs; i++)
        stack_need(p, i);
    *out = p;
    return 0;
fail:
    ptx_program_free(p);
    return r;
}

void ptx_program_free(struct ptx_program *prog)
{
    if (!prog)
        return;
    if (prog->funcs) {
        for (uint32_t i = 0; i < prog->mod->nfuncs; i++) {
            free(prog->funcs[i].code);
            free(prog->funcs[i].consts);
        }
    }
    free(prog->funcs);
    free(prog->lists);
    free(prog->shared_off);
    free(prog);
}

int ptx_program_kernel_info(const struct ptx_program *prog, const struct ptx_function *fn,
                            struct ptx_kernel_info *info)
{
    const struct ptx_module *mod = prog->mod;
    if (fn < mod->funcs || fn >= mod->funcs + mod->nfuncs || !fn->is_entry || !fn->defined)
        return -EINVAL;
    const struct xfunc *xf = &prog->funcs[fn - mod->funcs];
    memset(info, 0, sizeof(*info));
    info->static_shared_bytes = prog->static_shared;
    info->local_bytes = xf->recursive ? xf->stack_need + 16384 : xf->stack_need;
    uint32_t regs = fn->nregs[PTX_RC_32] + 2 * fn->nregs[PTX_RC_64] + (fn->nregs[PTX_RC_16] + 1) / 2;
    info->num_regs = regs < 16 ? 16 : regs > 255 ? 255 : regs;
    uint32_t mt = 1024;
    if (fn->reqntid[0])
        mt = fn->reqntid[0] * (fn->reqntid[1] ? fn->reqntid[1] : 1) *
             (fn->reqntid[2] ? fn->reqntid[2] : 1);
    else if (fn->maxntid[0])
        mt = fn->maxntid[0] * (fn->maxntid[1] ? fn->maxntid[1] : 1) *
             (fn->maxntid[2] ? fn->maxntid[2] : 1);
    info->max_threads_per_block = mt > 1024 ? 1024 : mt;
    info->const_bytes = prog->const_bytes;
    info->uses_grid_sync = xf->reads_envreg;
    return 0;
}

void ptx_var_relocate(const struct ptx_var *v, const uint64_t *var_addr, uint8_t *image)
{
    for (uint32_t i = 0; i < v->nrelocs; i++) {
        const struct ptx_reloc *rl = &v->relocs[i];
        uint64_t a = var_addr[rl->var] + (uint64_t)rl->addend;
        if (rl->offset + 8 > v->size)
            continue;
        for (unsigned k = 0; k < 8; k++)
            image[rl->offset + k] = (uint8_t)(a >> (8 * k));
    }
}
