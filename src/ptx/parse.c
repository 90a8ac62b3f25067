/*
 * The PTX parser: module directives, variables, function signatures and bodies, decoded into the
 * records of ptx.h. Registers, parameters and locals are resolved through a scoped declaration
 * list; labels through fixups resolved when the function ends.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lex.h"
#include "ptx.h"
#include "table.h"

/* Caps that keep hostile input from asking for unbounded memory. */
#define MAX_REGS_PER_CLASS (1u << 22)
#define MAX_INSNS          (1u << 24)
#define MAX_VAR_SIZE       (1ull << 32)
#define MAX_INIT_SIZE      (64u << 20)
#define MAX_PARAM_BLOCK    (1u << 20)
#define MAX_FRAME          (1u << 24)
#define MAX_DEPTH          64
#define MAX_VEC_ELEMS      8

/* ---- arena: names and initialisers live as long as the module ---- */

struct ptx_arena {
    struct ptx_arena *next;
    size_t used, cap;
    unsigned char data[];
};

static void *arena_alloc(struct ptx_arena **head, size_t n)
{
    n = (n + 15) & ~(size_t)15;
    struct ptx_arena *a = *head;
    if (!a || a->cap - a->used < n) {
        size_t cap = n > 65536 ? n : 65536;
        a = malloc(sizeof(*a) + cap);
        if (!a)
            return NULL;
        a->next = *head;
        a->used = 0;
        a->cap = cap;
        *head = a;
    }
    void *p = a->data + a->used;
    a->used += n;
    return p;
}

static void arena_free(struct ptx_arena *a)
{
    while (a) {
        struct ptx_arena *next = a->next;
        free(a);
        a = next;
    }
}

/* Grows *v (of *cap elements of size sz) to hold at least need; returns 0 or -ENOMEM. */
static int grow(void **v, size_t *cap, size_t need, size_t sz)
{
    if (need <= *cap)
        return 0;
    size_t ncap = *cap ? *cap : 16;
    while (ncap < need)
        ncap *= 2;
    void *nv = realloc(*v, ncap * sz);
    if (!nv)
        return -ENOMEM;
    *v = nv;
    *cap = ncap;
    return 0;
}

#define GROW(arr, cap, need) grow((void **)&(arr), &(cap), (need), sizeof(*(arr)))

/* ---- parser state ---- */

enum decl_kind {
    DECL_REG,
    DECL_REG_RANGE,
    DECL_PARAM,
    DECL_RETPARAM,
    DECL_CALLPARAM,
    DECL_LOCAL,
    DECL_VAR,
    DECL_PROTO
};

struct decl {
    const char *name;
    uint32_t len;
    uint8_t kind;
    uint8_t rclass;
    uint32_t base;  /* first slot, byte offset, or variable index */
    uint32_t count; /* registers in a range */
    int depth;
};

struct fixup {
    uint32_t insn, opnd;
    const struct ptx_tok *tok;
};

struct scope {
    size_t ndecls;
    uint32_t callparam;
};

struct parser {
    const struct ptx_tok *t; /* tokens; t[n-1] is EOF */
    size_t pos, n;
    struct ptx_error *err;
    struct ptx_module *mod;
    size_t funcs_cap, vars_cap;
    /* The function whose body is being parsed. */
    struct ptx_function *fn;
    int fn_index;
    size_t insns_cap, xops_cap, labels_cap, protos_cap;
    struct decl *decls;
    size_t ndecls, decls_cap;
    struct fixup *fix;
    size_t nfix, fix_cap;
    struct scope scopes[MAX_DEPTH];
    int depth;
    uint32_t callparam;
};

static int fail(struct parser *ps, const struct ptx_tok *t, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int fail(struct parser *ps, const struct ptx_tok *t, const char *fmt, ...)
{
    if (ps->err) {
        ps->err->line = t->line;
        ps->err->col = t->col;
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(ps->err->msg, sizeof(ps->err->msg), fmt, ap);
        va_end(ap);
    }
    return -EINVAL;
}

/* Prints a token for a message: its text, or "end of input". */
#define TOKF "%s%.*s%s"
#define TOKA(t)                                                                                    \
    (t)->kind == PTX_TOK_EOF ? "end of input" : "'",                                               \
        (t)->kind == PTX_TOK_EOF ? 0 : (int)((t)->len > 64 ? 64 : (t)->len), (t)->p,               \
        (t)->kind == PTX_TOK_EOF ? "" : "'"

static const struct ptx_tok *cur(struct parser *ps)
{
    return &ps->t[ps->pos];
}

static const struct ptx_tok *peek(struct parser *ps, size_t k)
{
    size_t i = ps->pos + k;
    return &ps->t[i < ps->n ? i : ps->n - 1];
}

static const struct ptx_tok *advance(struct parser *ps)
{
    const struct ptx_tok *t = &ps->t[ps->pos];
    if (ps->pos + 1 < ps->n)
        ps->pos++;
    return t;
}

static bool is_punct(const struct ptx_tok *t, char c)
{
    return t->kind == PTX_TOK_PUNCT && t->p[0] == c;
}

static bool is_dir(const struct ptx_tok *t, const char *name)
{
    return t->kind == PTX_TOK_DIRECTIVE && t->len == strlen(name) && !memcmp(t->p, name, t->len);
}

static bool tok_is(const struct ptx_tok *t, const char *s)
{
    return t->len == strlen(s) && !memcmp(t->p, s, t->len);
}

static int expect(struct parser *ps, char c, const char *what)
{
    const struct ptx_tok *t = cur(ps);
    if (!is_punct(t, c))
        return fail(ps, t, "expected '%c' %s, found " TOKF, c, what, TOKA(t));
    advance(ps);
    return 0;
}

static const char *intern(struct parser *ps, const char *s, size_t n)
{
    char *p = arena_alloc(&ps->mod->arena, n + 1);
    if (!p)
        return NULL;
    memcpy(p, s, n);
    p[n] = 0;
    return p;
}

/* Reads an unsigned integer token no larger than max. */
static int parse_uint(struct parser *ps, uint64_t max, const char *what, uint64_t *out)
{
    const struct ptx_tok *t = cur(ps);
    if (t->kind != PTX_TOK_INT)
        return fail(ps, t, "expected %s, found " TOKF, what, TOKA(t));
    if (t->u > max)
        return fail(ps, t, "%s " TOKF " is too large (at most %llu)", what, TOKA(t),
                    (unsigned long long)max);
    *out = t->u;
    advance(ps);
    return 0;
}

static int type_rclass(int type)
{
    switch (type) {
    case PTX_T_PRED:
        return PTX_RC_PRED;
    case PTX_T_B8:
    case PTX_T_U8:
    case PTX_T_S8:
    case PTX_T_B16:
    case PTX_T_U16:
    case PTX_T_S16:
    case PTX_T_F16:
    case PTX_T_BF16:
        return PTX_RC_16;
    case PTX_T_B32:
    case PTX_T_U32:
    case PTX_T_S32:
    case PTX_T_F32:
    case PTX_T_F16X2:
    case PTX_T_BF16X2:
        return PTX_RC_32;
    case PTX_T_B64:
    case PTX_T_U64:
    case PTX_T_S64:
    case PTX_T_F64:
        return PTX_RC_64;
    default:
        return -1;
    }
}

/* Reads a type directive (.u32) at the cursor; returns the type or a negative error. */
static int parse_type_dir(struct parser *ps, const char *what)
{
    const struct ptx_tok *t = cur(ps);
    int type = t->kind == PTX_TOK_DIRECTIVE ? ptx_type_lookup(t->p + 1, t->len - 1) : -1;
    if (type < 0)
        return fail(ps, t, "expected a type for %s, found " TOKF, what, TOKA(t));
    advance(ps);
    return type;
}

/* ---- declarations ---- */

static struct decl *decl_find(struct parser *ps, const char *s, size_t n, uint32_t *slot)
{
    for (size_t i = ps->ndecls; i-- > 0;) {
        struct decl *d = &ps->decls[i];
        if (d->kind == DECL_REG_RANGE) {
            if (n <= d->len || memcmp(d->name, s, d->len))
                continue;
            uint64_t v = 0;
            size_t j = d->len;
            if (s[j] == '0' && n - j > 1)
                continue;
            for (; j < n && s[j] >= '0' && s[j] <= '9' && v < d->count; j++)
                v = v * 10 + (uint64_t)(s[j] - '0');
            if (j == n && v < d->count) {
                *slot = d->base + (uint32_t)v;
                return d;
            }
        } else if (d->len == n && !memcmp(d->name, s, n)) {
            *slot = d->base;
            return d;
        }
    }
    return NULL;
}

static int decl_add(struct parser *ps, const struct ptx_tok *t, const char *name, size_t len,
                    uint8_t kind, uint8_t rclass, uint32_t base, uint32_t count)
{
    /* A name declared twice in one scope is an error; shadowing an outer scope is allowed. */
    for (size_t i = ps->ndecls; i-- > 0 && ps->decls[i].depth == ps->depth;) {
        struct decl *d = &ps->decls[i];
        if (d->len == len && !memcmp(d->name, name, len) && d->kind == kind)
            return fail(ps, t, "'%.*s' is declared twice", (int)len, name);
    }
    if (GROW(ps->decls, ps->decls_cap, ps->ndecls + 1))
        return -ENOMEM;
    ps->decls[ps->ndecls++] =
        (struct decl){name, (uint32_t)len, kind, rclass, base, count, ps->depth};
    return 0;
}

/* .reg [.vN] .type name[<N>] {, name[<N>]} ; */
static int parse_reg_decl(struct parser *ps)
{
    const struct ptx_tok *dir = advance(ps);
    if (is_dir(cur(ps), ".v2") || is_dir(cur(ps), ".v4"))
        return fail(ps, cur(ps), "vector registers (" TOKF ") are not supported", TOKA(cur(ps)));
    int type = parse_type_dir(ps, ".reg");
    if (type < 0)
        return type;
    int rc = type_rclass(type);
    if (rc < 0)
        return fail(ps, dir, "registers of type .%s are not supported", ptx_type_name(type));
    for (;;) {
        const struct ptx_tok *name = cur(ps);
        if (name->kind != PTX_TOK_WORD || memchr(name->p, '.', name->len))
            return fail(ps, name, "expected a register name, found " TOKF, TOKA(name));
        advance(ps);
        uint64_t count = 1;
        bool range = false;
        if (is_punct(cur(ps), '<')) {
            advance(ps);
            int r = parse_uint(ps, MAX_REGS_PER_CLASS, "register count", &count);
            if (r)
                return r;
            if ((r = expect(ps, '>', "after the register count")))
                return r;
            range = true;
        }
        if (ps->fn->nregs[rc] + count > MAX_REGS_PER_CLASS)
            return fail(ps, name, "too many registers (" TOKF ")", TOKA(name));
        int r = decl_add(ps, name, name->p, name->len, range ? DECL_REG_RANGE : DECL_REG,
                         (uint8_t)rc, ps->fn->nregs[rc], (uint32_t)count);
        if (r)
            return r;
        ps->fn->nregs[rc] += (uint32_t)count;
        if (!is_punct(cur(ps), ','))
            break;
        advance(ps);
    }
    return expect(ps, ';', "after .reg declaration");
}

/* ---- variables ---- */

/* Writes one initialiser element of the given type at dst. */
static void store_elem(uint8_t *dst, int type, const struct ptx_tok *t, bool neg)
{
    unsigned size = ptx_type_size((unsigned)type);
    uint64_t bits = t->u;
    bool is_float = type == PTX_T_F32 || type == PTX_T_F64;
    if (is_float && t->kind == PTX_TOK_INT) {
        double d = (double)t->u;
        memcpy(&bits, &d, 8);
        if (type == PTX_T_F32) {
            float f = (float)d;
            uint32_t b;
            memcpy(&b, &f, 4);
            bits = b;
        }
    } else if (type == PTX_T_F32 && t->kind == PTX_TOK_F64) {
        double d;
        memcpy(&d, &bits, 8);
        float f = (float)d;
        uint32_t b;
        memcpy(&b, &f, 4);
        bits = b;
    } else if (type == PTX_T_F64 && t->kind == PTX_TOK_F32) {
        float f;
        uint32_t b = (uint32_t)bits;
        memcpy(&f, &b, 4);
        double d = f;
        memcpy(&bits, &d, 8);
    }
    if (neg) {
        if (is_float)
            bits ^= type == PTX_T_F32 ? 0x80000000ull : 0x8000000000000000ull;
        else
            bits = (uint64_t)0 - bits;
    }
    for (unsigned i = 0; i < size; i++)
        dst[i] = (uint8_t)(bits >> (8 * i));
}

struct init_state {
    uint8_t *buf;
    size_t cap;     /* bytes allocated */
    uint64_t limit; /* bytes the variable holds (0 = unsized: grows) */
    uint64_t used;
    int type;
    struct ptx_reloc *relocs; /* elements naming variables */
    size_t nrelocs, relocs_cap;
};

static int find_function(struct ptx_module *mod, const char *s, size_t n);

/* Makes room for one more element of size bytes; returns 0, -EINVAL (err set) or -ENOMEM. */
static int init_room(struct parser *ps, struct init_state *st, const struct ptx_tok *t,
                     unsigned size)
{
    if (st->limit && st->used + size > st->limit)
        return fail(ps, t, "too many initialisers: " TOKF " is past the end of the variable",
                    TOKA(t));
    if (st->used + size > MAX_INIT_SIZE)
        return fail(ps, t, "initialiser larger than %u bytes", MAX_INIT_SIZE);
    if (st->used + size > st->cap) {
        size_t ncap = st->cap ? st->cap * 2 : 64;
        while (ncap < st->used + size)
            ncap *= 2;
        uint8_t *nb = realloc(st->buf, ncap);
        if (!nb)
            return -ENOMEM;
        memset(nb + st->cap, 0, ncap - st->cap);
        st->buf = nb;
        st->cap = ncap;
    }
    return 0;
}

/* An initialiser element naming a symbol: `f` (a function: its tagged address), `x`, `x+8` or
 * `generic(x)` (a .global/.const variable: a relocation the loader applies). The element type
 * must be 64 bits wide. */
static int parse_init_symbol(struct parser *ps, struct init_state *st)
{
    const struct ptx_tok *t = cur(ps);
    bool generic = false;
    if (tok_is(t, "generic") && is_punct(peek(ps, 1), '(')) {
        generic = true;
        advance(ps);
        advance(ps);
    }
    const struct ptx_tok *name = cur(ps);
    if (name->kind != PTX_TOK_WORD)
        return fail(ps, name, "expected a symbol in the initialiser, found " TOKF, TOKA(name));
    if (ptx_type_size((unsigned)st->type) != 8)
        return fail(ps, name, "initialiser " TOKF " is an address; the variable's type must be 64 bits",
                    TOKA(name));
    int64_t var = -1, func = -1;
    for (uint32_t i = 0; i < ps->mod->nvars && var < 0; i++) {
        const struct ptx_var *v = &ps->mod->vars[i];
        if (v->func < 0 && strlen(v->name) == name->len && !memcmp(v->name, name->p, name->len))
            var = i;
    }
    if (var < 0)
        func = find_function(ps->mod, name->p, name->len);
    if (var < 0 && func < 0)
        return fail(ps, name, "initialiser names " TOKF ", which is not declared before it",
                    TOKA(name));
    if (var >= 0 && ps->mod->vars[var].space != PTX_SPACE_GLOBAL &&
        ps->mod->vars[var].space != PTX_SPACE_CONST)
        return fail(ps, name, "initialiser names " TOKF "; only .global and .const variables and "
                    "functions have addresses here", TOKA(name));
    advance(ps);
    int64_t addend = 0;
    if (is_punct(cur(ps), '+')) {
        advance(ps);
        if (cur(ps)->kind != PTX_TOK_INT)
            return fail(ps, cur(ps), "expected an integer offset after '+', found " TOKF,
                        TOKA(cur(ps)));
        addend = (int64_t)cur(ps)->u;
        advance(ps);
    }
    if (generic) {
        int r = expect(ps, ')', "to close generic(");
        if (r)
            return r;
    }
    int r = init_room(ps, st, name, 8);
    if (r)
        return r;
    if (func >= 0) {
        uint64_t a = PTX_FUNC_ADDR(func) + (uint64_t)addend;
        for (unsigned i = 0; i < 8; i++)
            st->buf[st->used + i] = (uint8_t)(a >> (8 * i));
    } else {
        if (GROW(st->relocs, st->relocs_cap, st->nrelocs + 1))
            return -ENOMEM;
        st->relocs[st->nrelocs++] = (struct ptx_reloc){st->used, (uint32_t)var, addend};
    }
    st->used += 8;
    return 0;
}

static int parse_init_list(struct parser *ps, struct init_state *st, int depth)
{
    if (depth > 16)
        return fail(ps, cur(ps), "initialiser nested too deeply");
    if (is_punct(cur(ps), '{')) {
        advance(ps);
        for (;;) {
            int r = parse_init_list(ps, st, depth + 1);
            if (r)
                return r;
            if (is_punct(cur(ps), ','))
                advance(ps);
            else
                break;
        }
        return expect(ps, '}', "to close the initialiser");
    }
    if (cur(ps)->kind == PTX_TOK_WORD)
        return parse_init_symbol(ps, st);
    bool neg = false;
    if (is_punct(cur(ps), '-')) {
        neg = true;
        advance(ps);
    }
    const struct ptx_tok *t = cur(ps);
    if (t->kind != PTX_TOK_INT && t->kind != PTX_TOK_F32 && t->kind != PTX_TOK_F64)
        return fail(ps, t, "expected a constant in the initialiser, found " TOKF, TOKA(t));
    unsigned size = ptx_type_size((unsigned)st->type);
    int r = init_room(ps, st, t, size);
    if (r)
        return r;
    store_elem(st->buf + st->used, st->type, t, neg);
    st->used += size;
    advance(ps);
    return 0;
}

/* [.visible|.extern|.weak|.common]* space [.attribute(.managed)] [.align N] [.vN] .type name
 * [dims] [= init] {, name ...} ; — at module scope (fn NULL) or in a function. The linkage words
 * have been consumed by the caller and are passed in. */
static int parse_var_decl(struct parser *ps, bool visible, bool is_extern, bool weak)
{
    const struct ptx_tok *dir = advance(ps);
    int space;
    if (is_dir(dir, ".global"))
        space = PTX_SPACE_GLOBAL;
    else if (is_dir(dir, ".shared"))
        space = PTX_SPACE_SHARED;
    else if (is_dir(dir, ".const"))
        space = PTX_SPACE_CONST;
    else
        space = PTX_SPACE_LOCAL;
    uint64_t align = 0;
    bool managed = false;
    int vec = 1;
    for (;;) {
        const struct ptx_tok *t = cur(ps);
        if (is_dir(t, ".align")) {
            advance(ps);
            int r = parse_uint(ps, 1u << 16, "alignment", &align);
            if (r)
                return r;
            if (!align || (align & (align - 1)))
                return fail(ps, t, "alignment %llu is not a power of two",
                            (unsigned long long)align);
        } else if (is_dir(t, ".attribute")) {
            advance(ps);
            int r = expect(ps, '(', "after .attribute");
            if (r)
                return r;
            if (!is_dir(cur(ps), ".managed"))
                return fail(ps, cur(ps), "unsupported attribute " TOKF, TOKA(cur(ps)));
            managed = true;
            advance(ps);
            if ((r = expect(ps, ')', "after the attribute")))
                return r;
        } else if (is_dir(t, ".v2") || is_dir(t, ".v4")) {
            vec = t->p[2] - '0';
            advance(ps);
        } else {
            break;
        }
    }
    int type = parse_type_dir(ps, "a variable");
    if (type < 0)
        return type;
    if (type == PTX_T_PRED)
        return fail(ps, dir, "variables of type .pred are not supported");
    uint64_t esize = (uint64_t)ptx_type_size((unsigned)type) * (uint64_t)vec;
    if (!align)
        align = esize;
    for (;;) {
        const struct ptx_tok *name = cur(ps);
        if (name->kind != PTX_TOK_WORD || memchr(name->p, '.', name->len) || name->p[0] == '%')
            return fail(ps, name, "expected a variable name, found " TOKF, TOKA(name));
        advance(ps);
        uint64_t size = esize;
        bool unsized = false;
        while (is_punct(cur(ps), '[')) {
            advance(ps);
            if (is_punct(cur(ps), ']')) {
                unsized = true;
            } else {
                uint64_t dim;
                int r = parse_uint(ps, MAX_VAR_SIZE, "array size", &dim);
                if (r)
                    return r;
                if (dim && size > MAX_VAR_SIZE / dim)
                    return fail(ps, name, "variable '%.*s' is too large", (int)name->len, name->p);
                size *= dim;
            }
            int r = expect(ps, ']', "after the array size");
            if (r)
                return r;
        }
        struct init_state st = {NULL, 0, unsized ? 0 : size, 0, type, NULL, 0, 0};
        if (is_punct(cur(ps), '=')) {
            if (space != PTX_SPACE_GLOBAL && space != PTX_SPACE_CONST)
                return fail(ps, cur(ps), "only .global and .const variables take initialisers");
            advance(ps);
            if (vec != 1)
                return fail(ps, cur(ps), "initialisers of vector variables are not supported");
            int r = parse_init_list(ps, &st, 0);
            if (r) {
                free(st.buf);
                free(st.relocs);
                return r;
            }
            if (unsized) {
                size = st.used;
                unsized = false;
            }
        }
        if (GROW(ps->mod->vars, ps->vars_cap, ps->mod->nvars + 1)) {
            free(st.buf);
            free(st.relocs);
            return -ENOMEM;
        }
        struct ptx_var *v = &ps->mod->vars[ps->mod->nvars];
        memset(v, 0, sizeof(*v));
        v->name = intern(ps, name->p, name->len);
        v->init = NULL;
        if (st.nrelocs) {
            v->relocs = arena_alloc(&ps->mod->arena, st.nrelocs * sizeof(*st.relocs));
            if (v->relocs) {
                memcpy(v->relocs, st.relocs, st.nrelocs * sizeof(*st.relocs));
                v->nrelocs = (uint32_t)st.nrelocs;
            }
            free(st.relocs);
            st.relocs = NULL;
            if (!v->relocs) {
                free(st.buf);
                return -ENOMEM;
            }
        }
        if (st.buf) {
            v->init = arena_alloc(&ps->mod->arena, size);
            if (v->init) {
                memset(v->init, 0, size);
                memcpy(v->init, st.buf, st.used);
            }
            free(st.buf);
            if (!v->init)
                return -ENOMEM;
        }
        if (!v->name)
            return -ENOMEM;
        v->space = (uint8_t)space;
        v->type = (uint8_t)type;
        v->is_visible = visible;
        v->is_extern = is_extern;
        v->is_weak = weak;
        v->is_managed = managed;
        v->unsized = unsized;
        v->func = ps->fn ? ps->fn_index : -1;
        v->align = (uint32_t)align;
        v->size = size;
        v->line = name->line;
        uint32_t index = ps->mod->nvars++;
        if (ps->fn) {
            int r;
            if (space == PTX_SPACE_LOCAL) {
                /* Function-scope .local variables live in the per-thread frame. */
                uint64_t off = (ps->fn->local_size + align - 1) & ~(align - 1);
                if (off + size > MAX_FRAME)
                    return fail(ps, name, "local frame too large at '%.*s'", (int)name->len,
                                name->p);
                ps->fn->local_size = (uint32_t)(off + size);
                if (align > ps->fn->local_align)
                    ps->fn->local_align = (uint32_t)align;
                r = decl_add(ps, name, v->name, name->len, DECL_LOCAL, 0, (uint32_t)off, 0);
            } else {
                r = decl_add(ps, name, v->name, name->len, DECL_VAR, 0, index, 0);
            }
            if (r)
                return r;
        } else {
            for (uint32_t i = 0; i < index; i++)
                if (ps->mod->vars[i].func < 0 && !strcmp(ps->mod->vars[i].name, v->name))
                    return fail(ps, name, "variable '%s' is declared twice", v->name);
        }
        if (!is_punct(cur(ps), ','))
            break;
        advance(ps);
    }
    return expect(ps, ';', "after the variable declaration");
}

/* ---- operands ---- */

static int resolve_name(struct parser *ps, const struct ptx_tok *t, struct ptx_operand *o)
{
    uint32_t slot;
    struct decl *d = decl_find(ps, t->p, t->len, &slot);
    if (d) {
        switch (d->kind) {
        case DECL_REG:
        case DECL_REG_RANGE:
            o->kind = PTX_OPND_REG;
            o->rclass = d->rclass;
            o->index = slot;
            return 0;
        case DECL_PARAM:
            o->sym = PTX_SYM_PARAM;
            break;
        case DECL_RETPARAM:
            o->sym = PTX_SYM_RETPARAM;
            break;
        case DECL_CALLPARAM:
            o->sym = PTX_SYM_CALLPARAM;
            break;
        case DECL_LOCAL:
            o->sym = PTX_SYM_LOCAL;
            break;
        case DECL_PROTO:
            o->kind = PTX_OPND_PROTO;
            o->index = d->base;
            return 0;
        default:
            o->sym = PTX_SYM_VAR;
            break;
        }
        o->kind = PTX_OPND_SYMADDR;
        o->index = slot;
        return 0;
    }
    if (t->p[0] == '%') {
        int s = ptx_sreg_lookup(t->p, t->len);
        if (s < 0)
            return fail(ps, t, "unknown register " TOKF, TOKA(t));
        o->kind = PTX_OPND_SREG;
        o->index = (uint32_t)s;
        return 0;
    }
    for (uint32_t i = 0; i < ps->mod->nvars; i++) {
        const struct ptx_var *v = &ps->mod->vars[i];
        if (v->func < 0 && strlen(v->name) == t->len && !memcmp(v->name, t->p, t->len)) {
            o->kind = PTX_OPND_SYMADDR;
            o->sym = PTX_SYM_VAR;
            o->index = i;
            return 0;
        }
    }
    for (uint32_t i = 0; i < ps->mod->nfuncs; i++) {
        const struct ptx_function *f = &ps->mod->funcs[i];
        if (strlen(f->name) == t->len && !memcmp(f->name, t->p, t->len)) {
            o->kind = PTX_OPND_FUNC;
            o->index = i;
            return 0;
        }
    }
    return fail(ps, t, "undeclared identifier " TOKF, TOKA(t));
}

/* Reads an immediate (optionally negated) into o. */
static int parse_imm(struct parser *ps, struct ptx_operand *o)
{
    bool neg = false;
    const struct ptx_tok *start = cur(ps);
    if (is_punct(cur(ps), '-')) {
        neg = true;
        advance(ps);
    }
    const struct ptx_tok *t = cur(ps);
    o->kind = PTX_OPND_IMM;
    if (t->kind == PTX_TOK_INT) {
        if (neg && t->u > (1ull << 63))
            return fail(ps, start, "number -%.*s is too small for 64 bits", (int)t->len, t->p);
        o->imm = neg ? (int64_t)(0 - t->u) : (int64_t)t->u;
    } else if (t->kind == PTX_TOK_F32) {
        o->flags |= PTX_IMM_F32;
        o->imm = (int64_t)(t->u ^ (neg ? 0x80000000ull : 0));
    } else if (t->kind == PTX_TOK_F64) {
        o->flags |= PTX_IMM_F64;
        o->imm = (int64_t)(t->u ^ (neg ? 0x8000000000000000ull : 0));
    } else {
        return fail(ps, t, "expected a number, found " TOKF, TOKA(t));
    }
    advance(ps);
    return 0;
}

/* [reg], [reg+imm], [sym], [sym+imm], [imm] */
static int parse_address(struct parser *ps, struct ptx_operand *o)
{
    advance(ps); /* [ */
    const struct ptx_tok *t = cur(ps);
    o->kind = PTX_OPND_ADDR;
    if (t->kind == PTX_TOK_WORD) {
        struct ptx_operand base = {0};
        int r = resolve_name(ps, t, &base);
        if (r)
            return r;
        if (base.kind == PTX_OPND_REG) {
            if (base.rclass != PTX_RC_32 && base.rclass != PTX_RC_64)
                return fail(ps, t, "address register " TOKF " must be 32 or 64 bits", TOKA(t));
            o->rclass = base.rclass;
            o->index = base.index;
            o->sym = PTX_SYM_NONE;
        } else if (base.kind == PTX_OPND_SYMADDR) {
            o->sym = base.sym;
            o->index = base.index;
        } else {
            return fail(ps, t, TOKF " cannot be used as an address", TOKA(t));
        }
        advance(ps);
        if (is_punct(cur(ps), '+') || is_punct(cur(ps), '-')) {
            bool minus = is_punct(cur(ps), '-');
            if (!minus)
                advance(ps);
            struct ptx_operand off = {0};
            if ((r = parse_imm(ps, &off)))
                return r;
            if (off.flags)
                return fail(ps, t, "address offset must be an integer");
            o->imm = off.imm;
        }
    } else {
        struct ptx_operand off = {0};
        int r = parse_imm(ps, &off);
        if (r)
            return r;
        if (off.flags)
            return fail(ps, t, "address must be an integer");
        o->sym = PTX_SYM_NONE;
        o->rclass = 0xff; /* absolute */
        o->imm = off.imm;
    }
    return expect(ps, ']', "to close the address");
}

static int add_label_fixup(struct parser *ps, const struct ptx_tok *t, uint32_t opnd)
{
    if (GROW(ps->fix, ps->fix_cap, ps->nfix + 1))
        return -ENOMEM;
    ps->fix[ps->nfix++] = (struct fixup){ps->fn->ninsns, opnd, t};
    return 0;
}

static int parse_operand(struct parser *ps, int op, uint32_t opnd, struct ptx_operand *o,
                         bool in_list);

/* {a, b, ...} or (a, b, ...): elements go to fn->xops. */
static int parse_group(struct parser *ps, int op, char close, struct ptx_operand *o)
{
    const struct ptx_tok *open = advance(ps);
    struct ptx_operand elems[MAX_VEC_ELEMS * 4];
    uint32_t n = 0;
    if (!is_punct(cur(ps), close)) {
        for (;;) {
            if (n == sizeof(elems) / sizeof(elems[0]))
                return fail(ps, cur(ps), "too many elements in " TOKF, TOKA(open));
            memset(&elems[n], 0, sizeof(elems[n]));
            int r = parse_operand(ps, op, 0, &elems[n], true);
            if (r)
                return r;
            n++;
            if (!is_punct(cur(ps), ','))
                break;
            advance(ps);
        }
    }
    const struct ptx_tok *t = cur(ps);
    if (!is_punct(t, close))
        return fail(ps, t, "expected '%c' to close " TOKF ", found " TOKF, close, TOKA(open),
                    TOKA(t));
    advance(ps);
    struct ptx_function *fn = ps->fn;
    if (n) {
        if (GROW(fn->xops, ps->xops_cap, (size_t)fn->nxops + n))
            return -ENOMEM;
        memcpy(fn->xops + fn->nxops, elems, n * sizeof(elems[0]));
    }
    o->kind = close == '}' ? PTX_OPND_VEC : PTX_OPND_LIST;
    o->index = fn->nxops;
    o->imm = n;
    fn->nxops += n;
    return 0;
}

static int parse_operand(struct parser *ps, int op, uint32_t opnd, struct ptx_operand *o,
                         bool in_list)
{
    const struct ptx_tok *t = cur(ps);
    if (is_punct(t, '[')) {
        if (in_list)
            return fail(ps, t, "an address cannot be a vector element");
        return parse_address(ps, o);
    }
    if (is_punct(t, '{')) {
        if (in_list)
            return fail(ps, t, "vectors cannot nest");
        return parse_group(ps, op, '}', o);
    }
    if (is_punct(t, '(')) {
        if (in_list || op != PTX_OP_CALL)
            return fail(ps, t, "a parenthesised list is only valid in call");
        return parse_group(ps, op, ')', o);
    }
    if (is_punct(t, '!')) {
        advance(ps);
        const struct ptx_tok *r = cur(ps);
        if (r->kind != PTX_TOK_WORD)
            return fail(ps, r, "expected a predicate after '!', found " TOKF, TOKA(r));
        int rc = resolve_name(ps, r, o);
        if (rc)
            return rc;
        if (o->kind != PTX_OPND_REG || o->rclass != PTX_RC_PRED)
            return fail(ps, r, "'!' needs a predicate register, " TOKF " is not one", TOKA(r));
        o->flags |= PTX_OPND_NEG;
        advance(ps);
        return 0;
    }
    if (t->kind == PTX_TOK_WORD) {
        if (tok_is(t, "_")) {
            o->kind = PTX_OPND_SINK;
            advance(ps);
            return 0;
        }
        if (op == PTX_OP_BRA && !in_list) {
            o->kind = PTX_OPND_LABEL;
            int r = add_label_fixup(ps, t, opnd);
            if (r)
                return r;
            advance(ps);
            return 0;
        }
        int r = resolve_name(ps, t, o);
        if (r)
            return r;
        advance(ps);
        return 0;
    }
    if (t->kind == PTX_TOK_INT || t->kind == PTX_TOK_F32 || t->kind == PTX_TOK_F64 ||
        is_punct(t, '-'))
        return parse_imm(ps, o);
    return fail(ps, t, "expected an operand, found " TOKF, TOKA(t));
}

/* ---- instructions ---- */

static void convert_float_imm(struct ptx_operand *o, int type)
{
    if (o->kind != PTX_OPND_IMM)
        return;
    if (type == PTX_T_F32 && (o->flags & PTX_IMM_F64)) {
        double d;
        uint64_t b = (uint64_t)o->imm;
        memcpy(&d, &b, 8);
        float f = (float)d;
        uint32_t fb;
        memcpy(&fb, &f, 4);
        o->imm = fb;
        o->flags = (uint8_t)((o->flags & ~PTX_IMM_F64) | PTX_IMM_F32);
    } else if (type == PTX_T_F64 && (o->flags & PTX_IMM_F32)) {
        float f;
        uint32_t fb = (uint32_t)o->imm;
        memcpy(&f, &fb, 4);
        double d = f;
        memcpy(&o->imm, &d, 8);
        o->flags = (uint8_t)((o->flags & ~PTX_IMM_F32) | PTX_IMM_F64);
    }
}

static int apply_modifier(struct parser *ps, const struct ptx_tok *t, struct ptx_insn *in,
                          const struct ptx_mod_info *m, uint32_t *seen)
{
    uint8_t *field = NULL;
    switch (m->field) {
    case PTX_FIELD_FLAG:
        in->flags |= m->value;
        return 0;
    case PTX_FIELD_RND:
        field = &in->rnd;
        break;
    case PTX_FIELD_CMP:
        field = &in->cmp;
        break;
    case PTX_FIELD_BOOL:
        field = &in->boolop;
        break;
    case PTX_FIELD_SPACE:
        field = &in->space;
        break;
    case PTX_FIELD_VEC:
        field = &in->vec;
        break;
    case PTX_FIELD_MODE:
        field = &in->mode;
        break;
    case PTX_FIELD_SCOPE:
        field = &in->scope;
        break;
    default:
        field = &in->sem;
        break;
    }
    if (*seen & (1u << m->field))
        return fail(ps, t, "conflicting modifier '.%s' in " TOKF, m->name, TOKA(t));
    *seen |= 1u << m->field;
    *field = (uint8_t)m->value;
    return 0;
}

/* Splits the opcode word into mnemonic and modifiers and fills the record's header. */
static int decode_opcode(struct parser *ps, const struct ptx_tok *t, struct ptx_insn *in)
{
    const char *p = t->p, *end = t->p + t->len;
    const char *dot = memchr(p, '.', t->len);
    size_t mlen = dot ? (size_t)(dot - p) : t->len;
    /* Some opcodes are two words (bar.warp): try the longer name first. */
    int op = -1;
    if (dot) {
        const char *dot2 = memchr(dot + 1, '.', (size_t)(end - dot - 1));
        size_t l2 = dot2 ? (size_t)(dot2 - p) : t->len;
        if ((op = ptx_op_lookup(p, l2)) >= 0)
            mlen = l2;
    }
    if (op < 0)
        op = ptx_op_lookup(p, mlen);
    if (op < 0)
        return fail(ps, t, "unsupported instruction '%.*s' (opcode '%.*s')",
                    (int)(t->len > 80 ? 80 : t->len), t->p, (int)(mlen > 40 ? 40 : mlen), p);
    const struct ptx_op_info *info = &ptx_op_table[op];
    in->op = (uint16_t)op;
    in->vec = 1;
    uint32_t seen = 0;
    unsigned ntypes = 0;
    p += mlen;
    while (p < end) {
        p++; /* the dot */
        const char *q = p;
        while (q < end && *q != '.')
            q++;
        size_t n = (size_t)(q - p);
        if (!n)
            return fail(ps, t, "empty modifier in " TOKF, TOKA(t));
        int type = ptx_type_lookup(p, n);
        if (type >= 0) {
            if (ntypes >= info->tmax)
                return fail(ps, t, "too many types in " TOKF " ('.%.*s')", TOKA(t), (int)n, p);
            if (!(info->types & (1u << type)))
                return fail(ps, t, "type '.%.*s' is not valid for %s in " TOKF, (int)n, p,
                            info->name, TOKA(t));
            if (ntypes++ == 0)
                in->type = (uint8_t)type;
            else
                in->type2 = (uint8_t)type;
        } else {
            bool known;
            const struct ptx_mod_info *m = ptx_mod_lookup(p, n, info->classes, &known);
            if (!m)
                return fail(ps, t, "%s modifier '.%.*s' in " TOKF,
                            known ? "unsupported" : "unknown", (int)(n > 40 ? 40 : n), p, TOKA(t));
            int r = apply_modifier(ps, t, in, m, &seen);
            if (r)
                return r;
        }
        p = q;
    }
    static const uint32_t exclusive[] = {PTX_F_HI | PTX_F_LO | PTX_F_WIDE,
                                         PTX_F_APPROX | PTX_F_FULL, PTX_F_SHF_L | PTX_F_SHF_R,
                                         PTX_F_WRAP | PTX_F_CLAMP, PTX_F_RELU | PTX_F_SATFINITE};
    for (size_t i = 0; i < sizeof(exclusive) / sizeof(exclusive[0]); i++)
        if (__builtin_popcount(in->flags & exclusive[i]) > 1)
            return fail(ps, t, "conflicting modifiers in " TOKF, TOKA(t));
    if (ntypes < info->tmin)
        return fail(ps, t, "instruction " TOKF " needs %s type", TOKA(t),
                    info->tmin > 1 ? "a destination and a source" : "a");
    in->key = PTX_KEY(in->op, in->type);
    return 0;
}

static bool opnd_is(const struct ptx_insn *in, unsigned i, int kind)
{
    return i < in->nops && in->ops[i].kind == kind;
}

/* Checks operand shapes that the executor relies on. */
static int check_operands(struct parser *ps, const struct ptx_tok *t, struct ptx_insn *in)
{
    const struct ptx_op_info *info = &ptx_op_table[in->op];
    unsigned n = in->nops - ((in->flags & PTX_F_PAIR_DEST) ? 1 : 0);
    if (n < info->omin || n > info->omax)
        return fail(ps, t, "%s takes %u to %u operands, " TOKF " has %u", info->name, info->omin,
                    info->omax, TOKA(t), n);
    int addr_at = -1;
    switch (in->op) {
    case PTX_OP_LD:
    case PTX_OP_LDU:
    case PTX_OP_ATOM:
        addr_at = 1;
        break;
    case PTX_OP_ST:
    case PTX_OP_RED:
    case PTX_OP_PREFETCH:
        addr_at = 0;
        break;
    default:
        break;
    }
    for (unsigned i = 0; i < in->nops; i++) {
        const struct ptx_operand *o = &in->ops[i];
        if ((o->kind == PTX_OPND_ADDR) != ((int)i == addr_at))
            return fail(
                ps, t, "%s " TOKF ": operand %u %s",
                o->kind == PTX_OPND_ADDR ? "address not valid here in" : "expected an address in",
                TOKA(t), i + 1, o->kind == PTX_OPND_ADDR ? "is an address" : "is not an address");
        if (o->kind == PTX_OPND_VEC) {
            bool vec_ok = in->op == PTX_OP_MOV || in->op == PTX_OP_LD || in->op == PTX_OP_ST ||
                          in->op == PTX_OP_LDU;
            if (!vec_ok)
                return fail(ps, t, "vector operand not valid for %s", info->name);
            if (in->op != PTX_OP_MOV && (uint64_t)o->imm != in->vec)
                return fail(ps, t, "vector of %lld elements does not match .v%u in " TOKF,
                            (long long)o->imm, in->vec, TOKA(t));
        }
        if (o->kind == PTX_OPND_LABEL && in->op != PTX_OP_BRA)
            return fail(ps, t, "label operand not valid for %s", info->name);
        if (o->kind == PTX_OPND_FUNC && in->op != PTX_OP_CALL &&
            !(in->op == PTX_OP_MOV && i == 1 && ptx_type_size(in->type) == 8))
            return fail(ps, t, "function name not valid as an operand of " TOKF, TOKA(t));
        if (o->kind == PTX_OPND_PROTO && in->op != PTX_OP_CALL)
            return fail(ps, t, "a .callprototype is only valid as the last operand of call");
    }
    if (in->op == PTX_OP_LD || in->op == PTX_OP_ST || in->op == PTX_OP_LDU) {
        unsigned vi = in->op == PTX_OP_ST ? 1 : 0;
        if (in->vec > 1 && !opnd_is(in, vi, PTX_OPND_VEC))
            return fail(ps, t, TOKF " needs a vector operand", TOKA(t));
    }
    if (in->op == PTX_OP_CALL) {
        /* call [(rets),] func [, (args)] */
        unsigned fi = opnd_is(in, 0, PTX_OPND_LIST) ? 1 : 0;
        if (opnd_is(in, fi, PTX_OPND_REG)) {
            /* call [(rets),] %rd, [(args),] prototype */
            if (in->ops[fi].rclass != PTX_RC_64)
                return fail(ps, t, "an indirect call needs a 64-bit register holding the function address");
            if (!opnd_is(in, in->nops - 1, PTX_OPND_PROTO))
                return fail(ps, t, "an indirect call needs a .callprototype as its last operand "
                            "(call targets lists are not supported)");
            if (in->nops > fi + 3 || (in->nops == fi + 3 && !opnd_is(in, fi + 1, PTX_OPND_LIST)))
                return fail(ps, t, "call arguments must be a parenthesised list");
        } else {
            if (!opnd_is(in, fi, PTX_OPND_FUNC))
                return fail(ps, t, "call needs a function name or a register");
            if (in->nops > fi + 2 || (in->nops == fi + 2 && !opnd_is(in, fi + 1, PTX_OPND_LIST)))
                return fail(ps, t, "call arguments must be a parenthesised list");
        }
    }
    if (in->op == PTX_OP_BRA && !opnd_is(in, 0, PTX_OPND_LABEL))
        return fail(ps, t, "bra needs a label");
    /* Floating immediates take the instruction's width. */
    int ftype = in->op == PTX_OP_CVT ? in->type2 : in->type;
    for (unsigned i = 0; i < in->nops; i++)
        convert_float_imm(&in->ops[i], ftype);
    return 0;
}

static int parse_instruction(struct parser *ps)
{
    struct ptx_function *fn = ps->fn;
    struct ptx_insn in;
    memset(&in, 0, sizeof(in));
    in.guard = -1;
    const struct ptx_tok *first = cur(ps);
    if (is_punct(first, '@')) {
        advance(ps);
        if (is_punct(cur(ps), '!')) {
            in.flags |= PTX_F_GUARD_NEG;
            advance(ps);
        }
        const struct ptx_tok *g = cur(ps);
        struct ptx_operand go = {0};
        if (g->kind != PTX_TOK_WORD)
            return fail(ps, g, "expected a predicate after '@', found " TOKF, TOKA(g));
        int r = resolve_name(ps, g, &go);
        if (r)
            return r;
        if (go.kind != PTX_OPND_REG || go.rclass != PTX_RC_PRED)
            return fail(ps, g, "guard " TOKF " is not a predicate register", TOKA(g));
        in.guard = (int32_t)go.index;
        advance(ps);
    }
    const struct ptx_tok *t = cur(ps);
    if (t->kind != PTX_TOK_WORD)
        return fail(ps, t, "expected an instruction, found " TOKF, TOKA(t));
    if (fn->ninsns >= MAX_INSNS)
        return fail(ps, t, "too many instructions in function '%s'", fn->name);
    in.line = t->line;
    int r = decode_opcode(ps, t, &in);
    if (r)
        return r;
    advance(ps);
    size_t fix_mark = ps->nfix;
    if (!is_punct(cur(ps), ';')) {
        for (;;) {
            if (in.nops == PTX_MAX_OPERANDS)
                return fail(ps, cur(ps), "too many operands for " TOKF, TOKA(t));
            if ((r = parse_operand(ps, in.op, in.nops, &in.ops[in.nops], false)))
                return r;
            in.nops++;
            if (is_punct(cur(ps), '|')) {
                if (in.nops != 1)
                    return fail(ps, cur(ps), "'|' only joins the two destinations of " TOKF,
                                TOKA(t));
                advance(ps);
                in.flags |= PTX_F_PAIR_DEST;
                if ((r = parse_operand(ps, in.op, in.nops, &in.ops[in.nops], false)))
                    return r;
                in.nops++;
            }
            if (!is_punct(cur(ps), ','))
                break;
            advance(ps);
        }
    }
    const struct ptx_tok *semi = cur(ps);
    if (!is_punct(semi, ';'))
        return fail(ps, semi, "expected ';' after the operands of " TOKF ", found " TOKF, TOKA(t),
                    TOKA(semi));
    advance(ps);
    if ((r = check_operands(ps, t, &in))) {
        ps->nfix = fix_mark;
        return r;
    }
    if (GROW(fn->insns, ps->insns_cap, (size_t)fn->ninsns + 1))
        return -ENOMEM;
    fn->insns[fn->ninsns++] = in;
    return 0;
}

/* ---- functions ---- */

/* .param [.align N] [.ptr [.space] [.align N]] .type name [ '[' N ']' ] */
static int parse_param(struct parser *ps, struct ptx_param *p, uint32_t *block)
{
    const struct ptx_tok *dir = cur(ps);
    if (is_dir(dir, ".reg"))
        return fail(ps, dir, ".reg parameters are not supported; nvcc passes .param");
    if (!is_dir(dir, ".param"))
        return fail(ps, dir, "expected .param, found " TOKF, TOKA(dir));
    advance(ps);
    uint64_t align = 0;
    int type = -1;
    for (;;) {
        const struct ptx_tok *t = cur(ps);
        if (is_dir(t, ".align")) {
            advance(ps);
            int r = parse_uint(ps, 1u << 16, "alignment", &align);
            if (r)
                return r;
            if (!align || (align & (align - 1)))
                return fail(ps, t, "alignment %llu is not a power of two",
                            (unsigned long long)align);
        } else {
            break;
        }
    }
    if ((type = parse_type_dir(ps, "a parameter")) < 0)
        return type;
    /* Kernel pointer parameters may say what they point to: .ptr [.space] [.align N]. */
    if (is_dir(cur(ps), ".ptr")) {
        advance(ps);
        const struct ptx_tok *t = cur(ps);
        if (is_dir(t, ".global") || is_dir(t, ".shared") || is_dir(t, ".const") ||
            is_dir(t, ".local"))
            advance(ps);
        if (is_dir(cur(ps), ".align")) {
            advance(ps);
            uint64_t pointee;
            int r = parse_uint(ps, 1u << 16, "alignment", &pointee);
            if (r)
                return r;
        }
    }
    const struct ptx_tok *name = cur(ps);
    if (name->kind != PTX_TOK_WORD || memchr(name->p, '.', name->len) || name->p[0] == '%')
        return fail(ps, name, "expected a parameter name, found " TOKF, TOKA(name));
    advance(ps);
    uint64_t size = ptx_type_size((unsigned)type);
    if (type == PTX_T_PRED)
        size = 1;
    if (is_punct(cur(ps), '[')) {
        advance(ps);
        uint64_t dim;
        int r = parse_uint(ps, MAX_PARAM_BLOCK, "parameter array size", &dim);
        if (r)
            return r;
        if ((r = expect(ps, ']', "after the parameter array size")))
            return r;
        size *= dim;
    }
    if (!align)
        align = ptx_type_size((unsigned)type) ? ptx_type_size((unsigned)type) : 1;
    uint64_t off = (*block + align - 1) & ~(align - 1);
    if (off + size > MAX_PARAM_BLOCK)
        return fail(ps, name, "parameter block too large at '%.*s'", (int)name->len, name->p);
    p->name = intern(ps, name->p, name->len);
    if (!p->name)
        return -ENOMEM;
    p->offset = (uint32_t)off;
    p->size = (uint32_t)size;
    p->align = (uint32_t)align;
    p->type = (uint8_t)type;
    *block = (uint32_t)(off + size);
    return 0;
}

static int parse_param_list(struct parser *ps, struct ptx_param **out, uint32_t *count,
                            uint32_t *block)
{
    int r = expect(ps, '(', "to open the parameter list");
    if (r)
        return r;
    size_t cap = 0;
    struct ptx_param *v = NULL;
    uint32_t n = 0, size = 0, max_align = 1;
    if (!is_punct(cur(ps), ')')) {
        for (;;) {
            if ((r = GROW(v, cap, (size_t)n + 1)))
                goto fail;
            if ((r = parse_param(ps, &v[n], &size)))
                goto fail;
            if (v[n].align > max_align)
                max_align = v[n].align;
            n++;
            if (!is_punct(cur(ps), ','))
                break;
            advance(ps);
        }
    }
    if ((r = expect(ps, ')', "to close the parameter list")))
        goto fail;
    free(*out);
    *out = v;
    *count = n;
    *block = (size + max_align - 1) & ~(max_align - 1);
    return 0;
fail:
    free(v);
    return r;
}

static int find_function(struct ptx_module *mod, const char *s, size_t n)
{
    for (uint32_t i = 0; i < mod->nfuncs; i++)
        if (strlen(mod->funcs[i].name) == n && !memcmp(mod->funcs[i].name, s, n))
            return (int)i;
    return -1;
}

/* Skips the rest of the current line (for .loc, .file). */
static void skip_line(struct parser *ps)
{
    uint32_t line = cur(ps)->line;
    while (cur(ps)->kind != PTX_TOK_EOF && cur(ps)->line == line)
        advance(ps);
}

static int parse_pragma(struct parser *ps)
{
    advance(ps);
    while (cur(ps)->kind == PTX_TOK_STRING) {
        advance(ps);
        if (!is_punct(cur(ps), ','))
            break;
        advance(ps);
    }
    return expect(ps, ';', "after .pragma");
}

static int resolve_labels(struct parser *ps)
{
    struct ptx_function *fn = ps->fn;
    for (size_t i = 0; i < ps->nfix; i++) {
        const struct fixup *f = &ps->fix[i];
        uint32_t j;
        for (j = 0; j < fn->nlabels; j++)
            if (strlen(fn->labels[j].name) == f->tok->len &&
                !memcmp(fn->labels[j].name, f->tok->p, f->tok->len))
                break;
        if (j == fn->nlabels)
            return fail(ps, f->tok, "undefined label " TOKF, TOKA(f->tok));
        fn->insns[f->insn].ops[f->opnd].index = fn->labels[j].insn;
    }
    ps->nfix = 0;
    return 0;
}

/* name: .callprototype [.noreturn] [(rets)] _ [(params)] [.noreturn]; — the signature of indirect
 * calls that name it. */
static int parse_callprototype(struct parser *ps)
{
    struct ptx_function *fn = ps->fn;
    const struct ptx_tok *name = advance(ps);
    advance(ps); /* : */
    advance(ps); /* .callprototype */
    struct ptx_param *rets = NULL, *params = NULL;
    struct ptx_proto p = {0};
    int r = 0;
    if (is_dir(cur(ps), ".noreturn"))
        advance(ps);
    if (is_punct(cur(ps), '(') && (r = parse_param_list(ps, &rets, &p.nrets, &p.ret_size)))
        goto out;
    if (!tok_is(cur(ps), "_")) {
        r = fail(ps, cur(ps), "expected '_' in the .callprototype, found " TOKF, TOKA(cur(ps)));
        goto out;
    }
    advance(ps);
    if (is_punct(cur(ps), '(') && (r = parse_param_list(ps, &params, &p.nparams, &p.param_size)))
        goto out;
    if (is_dir(cur(ps), ".noreturn"))
        advance(ps);
    if ((r = expect(ps, ';', "after the .callprototype")))
        goto out;
    if ((r = GROW(fn->protos, ps->protos_cap, (size_t)fn->nprotos + 1)))
        goto out;
    p.name = intern(ps, name->p, name->len);
    if (!p.name) {
        r = -ENOMEM;
        goto out;
    }
    fn->protos[fn->nprotos] = p;
    r = decl_add(ps, name, name->p, name->len, DECL_PROTO, 0, fn->nprotos, 0);
    fn->nprotos++;
out:
    free(rets);
    free(params);
    return r;
}

static int parse_body(struct parser *ps)
{
    struct ptx_function *fn = ps->fn;
    ps->depth = 0;
    ps->ndecls = 0;
    ps->nfix = 0;
    ps->callparam = 0;
    ps->insns_cap = ps->xops_cap = ps->labels_cap = ps->protos_cap = 0;
    /* The function's parameters are names in its outermost scope. */
    for (uint32_t i = 0; i < fn->nparams; i++) {
        int r = decl_add(ps, cur(ps), fn->params[i].name, strlen(fn->params[i].name), DECL_PARAM, 0,
                         fn->params[i].offset, 0);
        if (r)
            return r;
    }
    for (uint32_t i = 0; i < fn->nrets; i++) {
        int r = decl_add(ps, cur(ps), fn->rets[i].name, strlen(fn->rets[i].name), DECL_RETPARAM, 0,
                         fn->rets[i].offset, 0);
        if (r)
            return r;
    }
    const struct ptx_tok *open = advance(ps); /* { */
    ps->depth = 1;
    ps->scopes[1] = (struct scope){ps->ndecls, 0};
    for (;;) {
        const struct ptx_tok *t = cur(ps);
        int r = 0;
        if (t->kind == PTX_TOK_EOF)
            return fail(ps, t, "unbalanced braces: function '%s' opened at line %u is not closed",
                        fn->name, open->line);
        if (is_punct(t, '{')) {
            if (ps->depth + 1 >= MAX_DEPTH)
                return fail(ps, t, "blocks nested too deeply");
            advance(ps);
            ps->depth++;
            ps->scopes[ps->depth] = (struct scope){ps->ndecls, ps->callparam};
            continue;
        }
        if (is_punct(t, '}')) {
            advance(ps);
            ps->ndecls = ps->scopes[ps->depth].ndecls;
            ps->callparam = ps->scopes[ps->depth].callparam;
            if (--ps->depth == 0)
                break;
            continue;
        }
        if (t->kind == PTX_TOK_DIRECTIVE) {
            if (is_dir(t, ".reg")) {
                r = parse_reg_decl(ps);
            } else if (is_dir(t, ".local") || is_dir(t, ".shared") || is_dir(t, ".global") ||
                       is_dir(t, ".const")) {
                r = parse_var_decl(ps, false, false, false);
                fn = ps->fn;
            } else if (is_dir(t, ".param")) {
                struct ptx_param p;
                uint32_t block = ps->callparam;
                r = parse_param(ps, &p, &block);
                if (!r) {
                    ps->callparam = block;
                    if (block > fn->callparam_size)
                        fn->callparam_size = block;
                    r = decl_add(ps, t, p.name, strlen(p.name), DECL_CALLPARAM, 0, p.offset, 0);
                }
                if (!r)
                    r = expect(ps, ';', "after the .param declaration");
            } else if (is_dir(t, ".pragma")) {
                r = parse_pragma(ps);
            } else if (is_dir(t, ".loc") || is_dir(t, ".file")) {
                skip_line(ps);
            } else {
                r = fail(ps, t, "unsupported directive " TOKF " in a function body", TOKA(t));
            }
        } else if (t->kind == PTX_TOK_WORD && is_punct(peek(ps, 1), ':') &&
                   is_dir(peek(ps, 2), ".callprototype")) {
            r = parse_callprototype(ps);
        } else if (t->kind == PTX_TOK_WORD && is_punct(peek(ps, 1), ':')) {
            for (uint32_t j = 0; j < fn->nlabels; j++)
                if (strlen(fn->labels[j].name) == t->len &&
                    !memcmp(fn->labels[j].name, t->p, t->len))
                    return fail(ps, t, "label " TOKF " is defined twice", TOKA(t));
            if (GROW(fn->labels, ps->labels_cap, (size_t)fn->nlabels + 1))
                return -ENOMEM;
            const char *name = intern(ps, t->p, t->len);
            if (!name)
                return -ENOMEM;
            fn->labels[fn->nlabels++] = (struct ptx_label){name, fn->ninsns};
            advance(ps);
            advance(ps);
        } else {
            r = parse_instruction(ps);
        }
        if (r)
            return r;
    }
    return resolve_labels(ps);
}

/* Reads the performance directives between a kernel's signature and its body. */
static int parse_perf_directives(struct parser *ps, struct ptx_function *fn)
{
    for (;;) {
        const struct ptx_tok *t = cur(ps);
        uint32_t *dims = NULL;
        if (is_dir(t, ".maxntid"))
            dims = fn->maxntid;
        else if (is_dir(t, ".reqntid"))
            dims = fn->reqntid;
        if (dims || is_dir(t, ".reqnctapercluster")) {
            uint32_t ignored[3];
            if (!dims)
                dims = ignored;
            advance(ps);
            for (int i = 0; i < 3; i++) {
                uint64_t v;
                int r = parse_uint(ps, UINT32_MAX, "a dimension", &v);
                if (r)
                    return r;
                dims[i] = (uint32_t)v;
                if (!is_punct(cur(ps), ','))
                    break;
                advance(ps);
            }
            continue;
        }
        uint32_t *one = NULL, ignored1;
        if (is_dir(t, ".minnctapersm"))
            one = &fn->minnctapersm;
        else if (is_dir(t, ".maxnreg"))
            one = &fn->maxnreg;
        else if (is_dir(t, ".maxnctapersm") || is_dir(t, ".maxclusterrank"))
            one = &ignored1;
        if (one) {
            advance(ps);
            uint64_t v;
            int r = parse_uint(ps, UINT32_MAX, "a count", &v);
            if (r)
                return r;
            *one = (uint32_t)v;
            continue;
        }
        if (is_dir(t, ".pragma")) {
            int r = parse_pragma(ps);
            if (r)
                return r;
            continue;
        }
        if (is_dir(t, ".noreturn") || is_dir(t, ".explicitcluster")) {
            advance(ps);
            continue;
        }
        return 0;
    }
}

static int parse_function(struct parser *ps, bool visible, bool is_extern, bool weak)
{
    const struct ptx_tok *kw = advance(ps);
    bool entry = is_dir(kw, ".entry");
    struct ptx_param *rets = NULL, *params = NULL;
    uint32_t nrets = 0, nparams = 0, ret_size = 0, param_size = 0;
    int r = 0;
    if (is_dir(cur(ps), ".noreturn"))
        advance(ps);
    if (is_punct(cur(ps), '(')) {
        if (entry)
            return fail(ps, cur(ps), "a kernel (.entry) cannot return values");
        if ((r = parse_param_list(ps, &rets, &nrets, &ret_size)))
            return r;
    }
    const struct ptx_tok *name = cur(ps);
    if (name->kind != PTX_TOK_WORD || memchr(name->p, '.', name->len) || name->p[0] == '%') {
        r = fail(ps, name, "expected a function name, found " TOKF, TOKA(name));
        goto out;
    }
    advance(ps);
    if (is_dir(cur(ps), ".noreturn"))
        advance(ps);
    if (is_punct(cur(ps), '(') && (r = parse_param_list(ps, &params, &nparams, &param_size)))
        goto out;
    int index = find_function(ps->mod, name->p, name->len);
    if (index < 0) {
        if ((r = GROW(ps->mod->funcs, ps->funcs_cap, ps->mod->nfuncs + 1)))
            goto out;
        index = (int)ps->mod->nfuncs++;
        struct ptx_function *nf = &ps->mod->funcs[index];
        memset(nf, 0, sizeof(*nf));
        nf->name = intern(ps, name->p, name->len);
        if (!nf->name) {
            r = -ENOMEM;
            goto out;
        }
    }
    struct ptx_function *fn = &ps->mod->funcs[index];
    fn->is_entry = entry;
    fn->is_visible |= visible;
    fn->is_weak |= weak;
    fn->line = name->line;
    free(fn->params);
    free(fn->rets);
    fn->params = params;
    fn->nparams = nparams;
    fn->param_size = param_size;
    fn->rets = rets;
    fn->nrets = nrets;
    fn->ret_size = ret_size;
    params = rets = NULL;
    if ((r = parse_perf_directives(ps, fn)))
        goto out;
    if (is_punct(cur(ps), ';')) {
        advance(ps);
        fn->is_extern |= is_extern;
        goto out;
    }
    if (!is_punct(cur(ps), '{')) {
        r = fail(ps, cur(ps), "expected '{' or ';' after the signature of '%s', found " TOKF,
                 fn->name, TOKA(cur(ps)));
        goto out;
    }
    if (fn->defined) {
        r = fail(ps, name, "function " TOKF " is defined twice", TOKA(name));
        goto out;
    }
    if (is_extern) {
        r = fail(ps, cur(ps), ".extern function '%s' cannot have a body", fn->name);
        goto out;
    }
    fn->is_extern = false;
    fn->defined = true;
    ps->fn = fn;
    ps->fn_index = index;
    r = parse_body(ps);
    ps->fn = NULL;
out:
    free(params);
    free(rets);
    return r;
}

/* ---- module ---- */

static int parse_module(struct parser *ps)
{
    struct ptx_module *mod = ps->mod;
    bool have_version = false;
    for (;;) {
        const struct ptx_tok *t = cur(ps);
        int r = 0;
        if (t->kind == PTX_TOK_EOF)
            break;
        if (is_dir(t, ".version")) {
            advance(ps);
            const struct ptx_tok *v = cur(ps);
            unsigned maj, min;
            int used = 0;
            char buf[16];
            if ((v->kind != PTX_TOK_F64 && v->kind != PTX_TOK_INT) || v->len >= sizeof(buf))
                return fail(ps, v, "expected a version such as 9.0, found " TOKF, TOKA(v));
            memcpy(buf, v->p, v->len);
            buf[v->len] = 0;
            if (sscanf(buf, "%u.%u%n", &maj, &min, &used) != 2 || used != (int)v->len || maj > 99 ||
                min > 99)
                return fail(ps, v, "bad .version " TOKF, TOKA(v));
            mod->version_major = maj;
            mod->version_minor = min;
            have_version = true;
            advance(ps);
        } else if (is_dir(t, ".target")) {
            advance(ps);
            for (;;) {
                const struct ptx_tok *w = cur(ps);
                if (w->kind != PTX_TOK_WORD)
                    return fail(ps, w, "expected a target such as sm_80, found " TOKF, TOKA(w));
                if (w->len > 3 && !memcmp(w->p, "sm_", 3) && !mod->target[0]) {
                    size_t n = w->len < sizeof(mod->target) - 1 ? w->len : sizeof(mod->target) - 1;
                    memcpy(mod->target, w->p, n);
                    mod->target[n] = 0;
                } else if (w->len > 3 && !memcmp(w->p, "sm_", 3)) {
                    return fail(ps, w, "a second target " TOKF, TOKA(w));
                }
                advance(ps);
                if (!is_punct(cur(ps), ','))
                    break;
                advance(ps);
            }
        } else if (is_dir(t, ".address_size")) {
            advance(ps);
            uint64_t v;
            if ((r = parse_uint(ps, 64, "address size", &v)))
                return r;
            if (v != 64)
                return fail(ps, t, ".address_size %llu is not supported (only 64)",
                            (unsigned long long)v);
            mod->address_size = 64;
        } else if (is_dir(t, ".file") || is_dir(t, ".loc")) {
            skip_line(ps);
        } else if (is_dir(t, ".pragma")) {
            r = parse_pragma(ps);
        } else if (t->kind == PTX_TOK_DIRECTIVE) {
            bool visible = false, is_extern = false, weak = false;
            for (;;) {
                const struct ptx_tok *l = cur(ps);
                if (is_dir(l, ".visible"))
                    visible = true;
                else if (is_dir(l, ".extern"))
                    is_extern = true;
                else if (is_dir(l, ".weak") || is_dir(l, ".common"))
                    weak = true;
                else
                    break;
                advance(ps);
            }
            const struct ptx_tok *d = cur(ps);
            if (!have_version)
                return fail(ps, d, "expected .version before " TOKF, TOKA(d));
            if (is_dir(d, ".entry") || is_dir(d, ".func"))
                r = parse_function(ps, visible, is_extern, weak);
            else if (is_dir(d, ".global") || is_dir(d, ".shared") || is_dir(d, ".const") ||
                     is_dir(d, ".local"))
                r = parse_var_decl(ps, visible, is_extern, weak);
            else
                r = fail(ps, d, "unsupported directive " TOKF, TOKA(d));
        } else {
            return fail(ps, t, "expected a directive at module scope, found " TOKF, TOKA(t));
        }
        if (r)
            return r;
    }
    if (!have_version)
        return fail(ps, cur(ps), "no .version directive");
    if (!mod->target[0])
        return fail(ps, cur(ps), "no .target directive");
    return 0;
}

/* Frees a module and everything it owns; accepts NULL (see ptx.h). */
void ptx_module_free(struct ptx_module *mod)
{
    if (!mod)
        return;
    for (uint32_t i = 0; i < mod->nfuncs; i++) {
        struct ptx_function *f = &mod->funcs[i];
        free(f->params);
        free(f->rets);
        free(f->insns);
        free(f->xops);
        free(f->labels);
        free(f->protos);
    }
    free(mod->funcs);
    free(mod->vars);
    arena_free(mod->arena);
    free(mod);
}

/* Lexes the whole text, then parses it into a new module (see ptx.h for the contract). */
int ptx_parse(const char *src, size_t len, struct ptx_module **out, struct ptx_error *err)
{
    struct ptx_toks toks = {0};
    struct parser ps;
    int rc;
    *out = NULL;
    if (err)
        memset(err, 0, sizeof(*err));
    if (len > PTX_MAX_SOURCE) {
        if (err)
            snprintf(err->msg, sizeof(err->msg), "PTX text of %zu bytes is over the %u-byte limit",
                     len, PTX_MAX_SOURCE);
        return -E2BIG;
    }
    memset(&ps, 0, sizeof(ps));
    ps.err = err;
    ps.mod = calloc(1, sizeof(*ps.mod));
    if (!ps.mod)
        return -ENOMEM;
    if ((rc = ptx_lex(src, len, &toks, err)))
        goto out;
    ps.t = toks.v;
    ps.n = toks.n;
    rc = parse_module(&ps);
out:
    free(toks.v);
    free(ps.decls);
    free(ps.fix);
    if (rc) {
        if (rc == -ENOMEM && err && !err->msg[0])
            snprintf(err->msg, sizeof(err->msg), "out of memory");
        ptx_module_free(ps.mod);
        return rc;
    }
    *out = ps.mod;
    return 0;
}

/* Finds a function by name; borrowed from mod. */
const struct ptx_function *ptx_module_function(const struct ptx_module *mod, const char *name)
{
    int i = find_function((struct ptx_module *)mod, name, strlen(name));
    return i < 0 ? NULL : &mod->funcs[i];
}

/* Finds a module-scope variable by name; borrowed from mod. */
const struct ptx_var *ptx_module_var(const struct ptx_module *mod, const char *name)
{
    for (uint32_t i = 0; i < mod->nvars; i++)
        if (mod->vars[i].func < 0 && !strcmp(mod->vars[i].name, name))
            return &mod->vars[i];
    return NULL;
}

/* Returns the instruction a label names, or -1. */
int64_t ptx_function_label(const struct ptx_function *fn, const char *name)
{
    for (uint32_t i = 0; i < fn->nlabels; i++)
        if (!strcmp(fn->labels[i].name, name))
            return fn->labels[i].insn;
    return -1;
}
