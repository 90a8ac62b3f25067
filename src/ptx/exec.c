/*
 * The warp engine: runs a lowered program (exec_lower.c) over a grid. Each warp executes one
 * instruction for all its lanes at a time over a register file laid out reg[slot][lane]
 * (u64 lanes), with predicates as 32-bit lane masks. Divergence runs the lanes with the minimum
 * PC first and merges lanes when the running group reaches a waiting lane's PC. Barriers block a
 * warp and the CTA's scheduler switches to the next runnable warp; CTAs are handed out in
 * ascending order to a persistent pool of host threads. docs/internals/ptx.md, "The executor".
 */
#include "exec_internal.h"
#include "fp.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define QUANTUM  2048u     /* branches a warp runs before the scheduler moves on */
#define RSTACK_MAX (256u << 20) /* register frames of one warp's call stack */
#define RECURSION_STACK 16384u  /* extra .local bytes per thread when the call graph recurses */
#define PRINTF_MAX (16u << 20)  /* one printf call's output is cut beyond this */

enum { W_RUN, W_BAR, W_DONE };

struct frame {
    const struct xfunc *xf; /* the caller */
    uint32_t ret_pc, call_pc;
    uint32_t mask;          /* lanes that entered the callee */
    uint32_t waiting, resync;
    uint32_t fp;
    size_t roff;
    uint32_t lane_pc[32];
};

struct barrier {
    uint32_t arrived, count, waiters;
    uint32_t popc, any, all_false; /* bar.red accumulators */
};

struct cta;

struct warp {
    struct cta *cta;
    uint32_t id;
    uint32_t pc, active, waiting, resync, exited, live;
    int state;
    const struct xfunc *xf;
    uint64_t *regs;
    uint32_t *preds;
    uint32_t fp;
    size_t roff;
    uint32_t cc;
    uint32_t bar_mask;
    uint32_t lane_pc[32];
    uint32_t tid[3][32];
    struct frame *frames;
    uint32_t nframes, capframes;
    uint8_t *rstack;
    size_t rcap;
    uint64_t icount;
    /* Last global region hit: [lo, lo + len) at host. */
    uint64_t c_lo, c_len;
    uint8_t *c_host;
};

struct exec;

struct cta {
    struct exec *E;
    uint32_t id[3];
    uint32_t linear;
    uint32_t nthreads, nwarps;
    uint8_t *shared;
    uint8_t *local;
    struct warp *warps;
    struct barrier bars[16];
    uint32_t exited;
    uint64_t lane_insns; /* summed into exec.lane_insns once, when the worker ends */
};

struct exec {
    const struct ptx_launch *L;
    const struct ptx_program *prog;
    const struct xfunc *kf;
    struct ptx_region *regions;
    size_t nregions;
    uint8_t *gridws;
    uint32_t nctas, nthreads, nwarps;
    uint32_t shared_bytes, stack_bytes, param_size;
    atomic_uint next_cta;
    atomic_int stop;
    atomic_uint_fast64_t lane_insns;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    struct ptx_result *res;
    int fault_set;
    int nomem;
    unsigned started, finished;
};

/* ---- faults ---- */

static void fault(struct exec *E, struct warp *w, unsigned lane, const struct xinsn *x,
                  enum ptx_fault kind, uint64_t addr, const char *fmt, ...)
{
    atomic_store(&E->stop, 1);
    pthread_mutex_lock(&E->lock);
    if (!E->fault_set) {
        struct ptx_result *r = E->res;
        char why[160];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(why, sizeof(why), fmt, ap);
        va_end(ap);
        E->fault_set = 1;
        r->fault = kind;
        r->address = addr;
        const struct ptx_function *fn = w ? w->xf->fn : E->kf->fn;
        const struct ptx_insn *pi = (w && x) ? &fn->insns[x->src] : NULL;
        r->line = pi ? pi->line : 0;
        if (w) {
            static const char *const spaces[] = {
#define X(e, s) s,
                PTX_SPACES(X)
#undef X
            };
            struct cta *c = w->cta;
            const char *sp = pi && pi->space < PTX_SPACE_COUNT ? spaces[pi->space] : "";
            snprintf(r->msg, sizeof(r->msg),
                     "kernel %s: '%s%s%s%s%s' (in %s, line %u), block (%u,%u,%u) thread (%u,%u,%u): "
                     "%s",
                     E->kf->fn->name, pi ? ptx_op_name(pi->op) : "?", *sp ? "." : "", sp,
                     pi && pi->type ? "." : "", pi ? ptx_type_name(pi->type) : "", fn->name,
                     r->line, c->id[0], c->id[1], c->id[2], w->tid[0][lane], w->tid[1][lane],
                     w->tid[2][lane], why);
        } else {
            snprintf(r->msg, sizeof(r->msg), "kernel %s: %s", E->kf->fn->name, why);
        }
    }
    pthread_mutex_unlock(&E->lock);
}

/* ---- memory ---- */

static int region_lookup(struct exec *E, struct warp *w, uint64_t addr)
{
    size_t lo = 0, hi = E->nregions;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        const struct ptx_region *r = &E->regions[mid];
        if (addr < r->base)
            hi = mid;
        else if (addr - r->base >= r->size)
            lo = mid + 1;
        else {
            w->c_lo = r->base;
            w->c_len = r->size;
            w->c_host = r->host;
            return 0;
        }
    }
    return -1;
}

static uint8_t *local_of(struct warp *w, unsigned lane)
{
    struct exec *E = w->cta->E;
    return w->cta->local + ((size_t)w->id * 32 + lane) * E->stack_bytes;
}

/* Translates an address of space sp to a host pointer for an access of size bytes, or faults and
 * returns NULL. */
static uint8_t *xlate(struct exec *E, struct warp *w, const struct xinsn *x, unsigned sp,
                      uint64_t addr, unsigned size, unsigned lane, int store)
{
    uint64_t a = addr;
    if (size > 1 && (addr & (size - 1))) {
        fault(E, w, lane, x, PTX_FAULT_MISALIGNED, addr,
              "misaligned %u-byte access at address 0x%" PRIx64, size, addr);
        return NULL;
    }
    if (sp == SP_GENERIC) {
        if (a - PTX_SHARED_WINDOW < PTX_WINDOW_SIZE) {
            sp = SP_SHARED;
            a -= PTX_SHARED_WINDOW;
        } else if (a - PTX_LOCAL_WINDOW < PTX_WINDOW_SIZE) {
            sp = SP_LOCAL;
            a -= PTX_LOCAL_WINDOW;
        } else if (a - XW_PARAM_WINDOW < PTX_WINDOW_SIZE) {
            sp = SP_KPARAM;
            a -= XW_PARAM_WINDOW;
        } else {
            sp = SP_GLOBAL;
        }
    }
    switch (sp) {
    case SP_GLOBAL:
        if (a - w->c_lo < w->c_len && w->c_len - (a - w->c_lo) >= size)
            return w->c_host + (a - w->c_lo);
        if (!region_lookup(E, w, a) && w->c_len - (a - w->c_lo) >= size)
            return w->c_host + (a - w->c_lo);
        fault(E, w, lane, x, PTX_FAULT_ADDRESS, addr,
              "%s of %u bytes at global address 0x%" PRIx64 " is outside every allocation",
              store ? "store" : "load", size, addr);
        return NULL;
    case SP_SHARED:
        if (a < E->shared_bytes && E->shared_bytes - a >= size)
            return w->cta->shared + a;
        fault(E, w, lane, x, PTX_FAULT_ADDRESS, addr,
              "%s of %u bytes at shared offset 0x%" PRIx64 " is outside the %u bytes of shared "
              "memory",
              store ? "store" : "load", size, a, E->shared_bytes);
        return NULL;
    case SP_LOCAL:
        if (a < E->stack_bytes && E->stack_bytes - a >= size)
            return local_of(w, lane) + a;
        fault(E, w, lane, x, PTX_FAULT_ADDRESS, addr,
              "%s of %u bytes at local offset 0x%" PRIx64 " is outside the thread's %u bytes",
              store ? "store" : "load", size, a, E->stack_bytes);
        return NULL;
    case SP_KPARAM:
        if (!store && a < E->param_size && E->param_size - a >= size)
            return (uint8_t *)E->L->params + a;
        fault(E, w, lane, x, PTX_FAULT_ADDRESS, addr,
              "%s of %u bytes at parameter offset 0x%" PRIx64 " is outside the %u-byte "
              "parameter block",
              store ? "store" : "load", size, a, E->param_size);
        return NULL;
    default:
        fault(E, w, lane, x, PTX_FAULT_ADDRESS, addr, "bad address space");
        return NULL;
    }
}

/* The host bytes available at a generic address, for printf strings and argument buffers. */
static const uint8_t *span(struct exec *E, struct warp *w, unsigned lane, uint64_t a, size_t *avail)
{
    if (a - PTX_SHARED_WINDOW < PTX_WINDOW_SIZE) {
        a -= PTX_SHARED_WINDOW;
        if (a >= E->shared_bytes)
            return NULL;
        *avail = E->shared_bytes - a;
        return w->cta->shared + a;
    }
    if (a - PTX_LOCAL_WINDOW < PTX_WINDOW_SIZE) {
        a -= PTX_LOCAL_WINDOW;
        if (a >= E->stack_bytes)
            return NULL;
        *avail = E->stack_bytes - a;
        return local_of(w, lane) + a;
    }
    if (a - XW_PARAM_WINDOW < PTX_WINDOW_SIZE) {
        a -= XW_PARAM_WINDOW;
        if (a >= E->param_size)
            return NULL;
        *avail = E->param_size - a;
        return (const uint8_t *)E->L->params + a;
    }
    if (region_lookup(E, w, a))
        return NULL;
    *avail = w->c_len - (a - w->c_lo);
    return w->c_host + (a - w->c_lo);
}

static uint64_t addr_of(const struct exec *E, const struct warp *w, const struct xinsn *x,
                        const uint64_t *regs, unsigned lane)
{
    switch (x->am) {
    case AM_REG:
        return regs[(size_t)x->a * 32 + lane] + (uint64_t)x->imm;
    case AM_VAR:
        return E->L->var_addr[x->a] + (uint64_t)x->imm;
    case AM_FP:
        return w->fp + (uint64_t)x->imm;
    default:
        return (uint64_t)x->imm;
    }
}

static uint64_t rd_bytes(const uint8_t *p, unsigned n)
{
    switch (n) {
    case 1: return *p;
    case 2: { uint16_t v; memcpy(&v, p, 2); return v; }
    case 4: { uint32_t v; memcpy(&v, p, 4); return v; }
    default: { uint64_t v; memcpy(&v, p, 8); return v; }
    }
}

static void wr_bytes(uint8_t *p, uint64_t v, unsigned n)
{
    switch (n) {
    case 1: *p = (uint8_t)v; break;
    case 2: { uint16_t t = (uint16_t)v; memcpy(p, &t, 2); break; }
    case 4: { uint32_t t = (uint32_t)v; memcpy(p, &t, 4); break; }
    default: memcpy(p, &v, 8); break;
    }
}

static uint64_t extend(uint64_t v, unsigned from, unsigned to, int sign)
{
    if (sign && from < 8) {
        unsigned sh = 64 - from * 8;
        v = (uint64_t)((int64_t)(v << sh) >> sh);
    }
    return to >= 8 ? v : v & ((1ull << (to * 8)) - 1);
}

/* ld/ldu/st of any space, width and vector length. Returns 0, or -1 after a fault. */
static int mem_op(struct exec *E, struct warp *w, const struct xinsn *x, uint32_t m)
{
    uint64_t *regs = w->regs;
    const uint32_t *list = E->prog->lists + x->aux;
    unsigned n = x->c, eb = x->w, total = eb * n;
    int store = x->op == X_ST;
    if (x->am != AM_REG && (x->sp == SP_KPARAM || x->sp == SP_SHARED || x->sp == SP_GLOBAL)) {
        /* One address for every lane (ld.param of a kernel parameter, a shared or global
         * variable): translated once, for the lowest lane, which is where the per-lane loop
         * would fault first. */
        unsigned l0 = (unsigned)__builtin_ctz(m);
        uint8_t *p = xlate(E, w, x, x->sp, addr_of(E, w, x, regs, l0), total, l0, store);
        if (!p)
            return -1;
        for (unsigned i = 0; i < n; i++) {
            uint64_t *r = &regs[(size_t)list[i] * 32];
            if (store) {
                /* Lane order, as the per-lane loop: the highest lane's value stays. */
                for (unsigned l = 0; l < 32; l++)
                    if ((m >> l) & 1)
                        wr_bytes(p + i * eb, r[l], eb);
            } else {
                uint64_t v = extend(rd_bytes(p + i * eb, eb), eb, x->b, x->fl & XF_ANEG);
                for (unsigned l = 0; l < 32; l++)
                    if ((m >> l) & 1)
                        r[l] = v;
            }
        }
        if (!store)
            regs[(size_t)w->xf->sink * 32] = 0;
        return 0;
    }
    for (unsigned l = 0; l < 32; l++) {
        if (!((m >> l) & 1))
            continue;
        uint64_t a = addr_of(E, w, x, regs, l);
        uint8_t *p = xlate(E, w, x, x->sp, a, total, l, store);
        if (!p)
            return -1;
        for (unsigned i = 0; i < n; i++) {
            uint64_t *r = &regs[(size_t)list[i] * 32 + l];
            if (store)
                wr_bytes(p + i * eb, *r, eb);
            else
                *r = extend(rd_bytes(p + i * eb, eb), eb, x->b, x->fl & XF_ANEG);
        }
    }
    if (!store)
        regs[(size_t)w->xf->sink * 32] = 0;
    return 0;
}

/* ---- atomics ---- */

static int is_signed_type(unsigned t)
{
    return t == PTX_T_S8 || t == PTX_T_S16 || t == PTX_T_S32 || t == PTX_T_S64;
}

static uint64_t atom_new(const struct ptx_insn *pi, unsigned n, uint64_t old, uint64_t b,
                         uint64_t c)
{
    unsigned t = pi->type;
    int fl = t == PTX_T_F32 || t == PTX_T_F64 || t == PTX_T_F16 || t == PTX_T_BF16 ||
             t == PTX_T_F16X2 || t == PTX_T_BF16X2;
    uint64_t mask = n >= 8 ? ~0ull : (1ull << (8 * n)) - 1;
    switch (pi->mode) {
    case PTX_ATOM_ADD:
        if (fl)
            return ptx_fp_arith(PTX_OP_ADD, t, PTX_RND_RN, t == PTX_T_F32 ? PTX_F_FTZ : 0, old, b,
                                0) & mask;
        return (old + b) & mask;
    case PTX_ATOM_MIN:
    case PTX_ATOM_MAX: {
        int mx = pi->mode == PTX_ATOM_MAX;
        if (fl)
            return ptx_fp_arith(mx ? PTX_OP_MAX : PTX_OP_MIN, t, PTX_RND_NONE, 0, old, b, 0) &
                   mask;
        if (is_signed_type(t)) {
            unsigned sh = 64 - 8 * n;
            int64_t x = (int64_t)(old << sh) >> sh, y = (int64_t)(b << sh) >> sh;
            return (uint64_t)(mx ? (x > y ? x : y) : (x < y ? x : y)) & mask;
        }
        return mx ? (old > b ? old : b) : (old < b ? old : b);
    }
    case PTX_ATOM_INC:
        return old >= b ? 0 : (old + 1) & mask;
    case PTX_ATOM_DEC:
        return (old == 0 || old > b) ? b : old - 1;
    case PTX_ATOM_CAS:
        return old == b ? c & mask : old;
    case PTX_ATOM_EXCH:
        return b & mask;
    case PTX_ATOM_AND:
        return old & b;
    case PTX_ATOM_OR:
        return old | b;
    case PTX_ATOM_XOR:
        return old ^ b;
    default:
        return old;
    }
}

static int atom_op(struct exec *E, struct warp *w, const struct xinsn *x, uint32_t m)
{
    uint64_t *regs = w->regs;
    const struct ptx_insn *pi = &w->xf->fn->insns[x->src];
    unsigned n = x->w;
    uint64_t mask = n >= 8 ? ~0ull : (1ull << (8 * n)) - 1;
    for (unsigned l = 0; l < 32; l++) {
        if (!((m >> l) & 1))
            continue;
        uint64_t a = addr_of(E, w, x, regs, l);
        uint8_t *p = xlate(E, w, x, x->sp, a, n, l, 1);
        if (!p)
            return -1;
        uint64_t b = regs[(size_t)x->b * 32 + l] & mask, c = regs[(size_t)x->c * 32 + l] & mask;
        uint64_t old;
        if (n == 4) {
            uint32_t *q = (uint32_t *)p, o = __atomic_load_n(q, __ATOMIC_RELAXED);
            if (pi->mode == PTX_ATOM_ADD && !(pi->type == PTX_T_F32 || pi->type == PTX_T_F16X2 ||
                                              pi->type == PTX_T_BF16X2)) {
                o = __atomic_fetch_add(q, (uint32_t)b, __ATOMIC_SEQ_CST);
            } else {
                for (;;) {
                    uint32_t nv = (uint32_t)atom_new(pi, n, o, b, c);
                    if (pi->mode == PTX_ATOM_CAS && o != (uint32_t)b)
                        break;
                    if (__atomic_compare_exchange_n(q, &o, nv, 1, __ATOMIC_SEQ_CST,
                                                    __ATOMIC_RELAXED))
                        break;
                }
            }
            old = o;
        } else if (n == 8) {
            uint64_t *q = (uint64_t *)p, o = __atomic_load_n(q, __ATOMIC_RELAXED);
            if (pi->mode == PTX_ATOM_ADD && pi->type != PTX_T_F64) {
                o = __atomic_fetch_add(q, b, __ATOMIC_SEQ_CST);
            } else {
                for (;;) {
                    uint64_t nv = atom_new(pi, n, o, b, c);
                    if (pi->mode == PTX_ATOM_CAS && o != b)
                        break;
                    if (__atomic_compare_exchange_n(q, &o, nv, 1, __ATOMIC_SEQ_CST,
                                                    __ATOMIC_RELAXED))
                        break;
                }
            }
            old = o;
        } else {
            uint16_t *q = (uint16_t *)p, o = __atomic_load_n(q, __ATOMIC_RELAXED);
            for (;;) {
                uint16_t nv = (uint16_t)atom_new(pi, n, o, b, c);
                if (pi->mode == PTX_ATOM_CAS && o != (uint16_t)b)
                    break;
                if (__atomic_compare_exchange_n(q, &o, nv, 1, __ATOMIC_SEQ_CST, __ATOMIC_RELAXED))
                    break;
            }
            old = o;
        }
        regs[(size_t)x->d * 32 + l] = old;
    }
    return 0;
}

/* ---- time ---- */

static uint64_t host_ns(clockid_t id)
{
    struct timespec ts;
    clock_gettime(id, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* %clock64: a 1.5 GHz counter from the host's monotonic clock plus the warp's own instruction
 * count, so it advances on every read, even in a tight spin loop. */
static uint64_t warp_clock(const struct warp *w, uint64_t cnt)
{
    return host_ns(CLOCK_MONOTONIC) * 3 / 2 + w->icount + cnt;
}

/* ---- divergence ---- */

/* The divergence helpers are inlined into the interpreter loop (both of its builds): a divergent
 * warp calls them on every divergent branch. */
#if defined(__GNUC__)
#define XINLINE inline __attribute__((always_inline))
#else
#define XINLINE inline
#endif

static XINLINE uint32_t min_waiting_pc(const struct warp *w, uint32_t *lanes)
{
    uint32_t best = UINT32_MAX, mask = 0;
    for (uint32_t s = w->waiting; s; s &= s - 1) {
        unsigned l = (unsigned)__builtin_ctz(s);
        if (w->lane_pc[l] < best) {
            best = w->lane_pc[l];
            mask = 0;
        }
        if (w->lane_pc[l] == best)
            mask |= 1u << l;
    }
    if (lanes)
        *lanes = mask;
    return best;
}

/* The running group is empty: run the waiting lanes with the minimum PC. */
static XINLINE void resched(struct warp *w)
{
    uint32_t lanes;
    uint32_t pc = min_waiting_pc(w, &lanes);
    w->pc = pc;
    w->active = lanes;
    w->waiting &= ~lanes;
    w->resync = w->waiting ? min_waiting_pc(w, NULL) : UINT32_MAX;
}

/* The running group reached w->resync: take in the lanes waiting there. */
static XINLINE void merge(struct warp *w)
{
    uint32_t add = 0;
    for (uint32_t s = w->waiting; s; s &= s - 1) {
        unsigned l = (unsigned)__builtin_ctz(s);
        if (w->lane_pc[l] == w->pc)
            add |= 1u << l;
    }
    w->active |= add;
    w->waiting &= ~add;
    w->resync = w->waiting ? min_waiting_pc(w, NULL) : UINT32_MAX;
    if (w->resync < w->pc) {
        /* Lanes behind us (after a jump forward): they run first. */
        for (uint32_t s = w->active; s; s &= s - 1)
            w->lane_pc[__builtin_ctz(s)] = w->pc;
        w->waiting |= w->active;
        w->active = 0;
        resched(w);
    }
}

/* Moves the running group: lanes of taken go to target, the others of active to next. */
static XINLINE void jump(struct warp *w, uint32_t taken, uint32_t target, uint32_t next)
{
    uint32_t rest = w->active & ~taken;
    if (!w->waiting && !rest) {
        w->pc = target;
        return;
    }
    if (!w->waiting && !taken) {
        w->pc = next;
        return;
    }
    for (uint32_t s = taken; s; s &= s - 1)
        w->lane_pc[__builtin_ctz(s)] = target;
    for (uint32_t s = rest; s; s &= s - 1)
        w->lane_pc[__builtin_ctz(s)] = next;
    w->waiting |= w->active;
    w->active = 0;
    resched(w);
}

/* ---- calls ---- */

static size_t frame_regbytes(const struct xfunc *xf)
{
    return ((size_t)xf->nslots * 32 * 8 + (size_t)xf->npreds * 4 + 63) & ~(size_t)63;
}

static int enter_frame(struct exec *E, struct warp *w, const struct xfunc *xf, size_t roff)
{
    size_t need = roff + frame_regbytes(xf);
    if (need > w->rcap) {
        if (need > RSTACK_MAX)
            return -2;
        size_t ncap = w->rcap ? w->rcap : 4096;
        while (ncap < need)
            ncap *= 2;
        uint8_t *p = realloc(w->rstack, ncap);
        if (!p)
            return -1;
        w->rstack = p;
        w->rcap = ncap;
    }
    (void)E;
    w->xf = xf;
    w->roff = roff;
    w->regs = (uint64_t *)(w->rstack + roff);
    w->preds = (uint32_t *)(w->regs + (size_t)xf->nslots * 32);
    for (uint32_t k = 0; k < xf->nconst; k++) {
        uint64_t v = xf->consts[k], *r = w->regs + (size_t)(xf->const_base + k) * 32;
        for (unsigned l = 0; l < 32; l++)
            r[l] = v;
    }
    memset(w->preds, 0, (size_t)xf->npreds * 4);
    return 0;
}

static void builtin_call(struct exec *E, struct warp *w, const struct xinsn *x, uint32_t m);

/* An indirect call: every lane of *m must hold the address of a defined function whose signature
 * matches the call's prototype (else a fault). The lanes whose target equals the lowest lane's go
 * now (*m shrinks to them, *target is their function); the others are left to the caller. */
static int indirect_target(struct exec *E, struct warp *w, const struct xinsn *x, uint32_t *m,
                           uint32_t *target)
{
    const uint64_t *R = w->regs + (size_t)x->b * 32;
    const struct ptx_module *mod = E->prog->mod;
    const struct ptx_proto *pr = &w->xf->fn->protos[x->c];
    uint64_t first = R[__builtin_ctz(*m)];
    uint32_t same = 0;
    for (uint32_t s = *m; s; s &= s - 1) {
        unsigned l = (unsigned)__builtin_ctz(s);
        uint64_t a = R[l];
        uint64_t i = (a - PTX_FUNC_WINDOW) >> 4;
        if (a < PTX_FUNC_WINDOW || (a & 15) || i >= mod->nfuncs) {
            fault(E, w, l, x, PTX_FAULT_ADDRESS, a,
                  "indirect call through 0x%" PRIx64 ", which is not the address of a function", a);
            return -1;
        }
        const struct ptx_function *f = &mod->funcs[i];
        if (!f->defined || f->is_entry) {
            fault(E, w, l, x, PTX_FAULT_ADDRESS, a,
                  "indirect call of %s '%s' through a pointer is not supported",
                  f->is_entry ? "kernel" : "built-in", f->name);
            return -1;
        }
        if (f->nparams != pr->nparams || f->nrets != pr->nrets ||
            f->param_size != pr->param_size || f->ret_size != pr->ret_size) {
            fault(E, w, l, x, PTX_FAULT_ADDRESS, a,
                  "indirect call of '%s' through prototype '%s' with a different signature",
                  f->name, pr->name);
            return -1;
        }
        if (a == first)
            same |= 1u << l;
    }
    *m = same;
    *target = (uint32_t)((first - PTX_FUNC_WINDOW) >> 4);
    return 0;
}

/* call: push the caller's state and enter the callee with the lanes of m. Returns -1 on a fault. */
static int do_call(struct exec *E, struct warp *w, const struct xinsn *x, uint32_t m)
{
    uint32_t target = x->a, later = 0;
    if (target == XCALL_INDIRECT) {
        uint32_t all = m;
        if (indirect_target(E, w, x, &m, &target))
            return -1;
        later = all & ~m; /* other targets: they run this call again after these lanes return */
    }
    const struct xfunc *cf = &E->prog->funcs[target];
    const uint32_t *list = E->prog->lists + x->aux;
    if (cf->builtin) {
        builtin_call(E, w, x, m);
        return atomic_load_explicit(&E->stop, memory_order_relaxed) ? -1 : 0;
    }
    const struct xfunc *caller = w->xf;
    uint32_t nfp = w->fp + caller->frame_bytes;
    if (nfp + cf->frame_bytes > E->stack_bytes) {
        fault(E, w, (unsigned)__builtin_ctz(m), x, PTX_FAULT_STACK, 0,
              "call of %s needs %u bytes of stack; %u are left of %u", cf->fn->name,
              cf->frame_bytes, E->stack_bytes - nfp, E->stack_bytes);
        return -1;
    }
    if (w->nframes == w->capframes) {
        uint32_t nc = w->capframes ? w->capframes * 2 : 8;
        struct frame *f = realloc(w->frames, nc * sizeof(*f));
        if (!f) {
            fault(E, w, 0, x, PTX_FAULT_NOMEM, 0, "out of host memory for call frames");
            return -1;
        }
        w->frames = f;
        w->capframes = nc;
    }
    struct frame *f = &w->frames[w->nframes++];
    f->xf = caller;
    f->call_pc = w->pc;
    f->ret_pc = w->pc + 1;
    f->mask = m;
    /* Lanes of the running group the guard turned off wait after the call. */
    uint32_t rest = w->active & ~m & ~later;
    for (uint32_t s = rest; s; s &= s - 1)
        w->lane_pc[__builtin_ctz(s)] = w->pc + 1;
    for (uint32_t s = later; s; s &= s - 1)
        w->lane_pc[__builtin_ctz(s)] = w->pc;
    f->waiting = w->waiting | rest | later;
    f->resync = f->waiting ? UINT32_MAX : UINT32_MAX;
    memcpy(f->lane_pc, w->lane_pc, sizeof(f->lane_pc));
    f->fp = w->fp;
    f->roff = w->roff;
    /* Arguments: caller's call-site scratch -> callee's parameter block, per lane. */
    uint32_t na = list[0];
    for (uint32_t s = m; s; s &= s - 1) {
        unsigned l = (unsigned)__builtin_ctz(s);
        uint8_t *loc = local_of(w, l);
        for (uint32_t i = 0; i < na && i < cf->fn->nparams; i++)
            memcpy(loc + nfp + cf->fr_param + cf->fn->params[i].offset, loc + w->fp + list[1 + i],
                   cf->fn->params[i].size);
    }
    int r = enter_frame(E, w, cf, w->roff + frame_regbytes(caller));
    if (r) {
        w->nframes--;
        fault(E, w, 0, x, r == -2 ? PTX_FAULT_STACK : PTX_FAULT_NOMEM, 0,
              "register frames of the call stack exhausted calling %s", cf->fn->name);
        return -1;
    }
    w->fp = nfp;
    w->pc = 0;
    w->active = m;
    w->waiting = 0;
    w->resync = UINT32_MAX;
    return 0;
}

/* The callee's lanes have all returned or exited: copy results and resume the caller. */
static void pop_frame(struct exec *E, struct warp *w)
{
    struct frame *f = &w->frames[--w->nframes];
    const struct xfunc *cf = w->xf;
    const struct xinsn *call = &f->xf->code[f->call_pc];
    const uint32_t *list = E->prog->lists + call->aux;
    uint32_t na = list[0], nr = list[1 + na];
    uint32_t back = f->mask & ~w->exited;
    for (uint32_t s = back; s; s &= s - 1) {
        unsigned l = (unsigned)__builtin_ctz(s);
        uint8_t *loc = local_of(w, l);
        for (uint32_t i = 0; i < nr && i < cf->fn->nrets; i++)
            memcpy(loc + f->fp + list[2 + na + i], loc + w->fp + cf->fr_ret + cf->fn->rets[i].offset,
                   cf->fn->rets[i].size);
    }
    w->xf = f->xf;
    w->roff = f->roff;
    w->regs = (uint64_t *)(w->rstack + f->roff);
    w->preds = (uint32_t *)(w->regs + (size_t)f->xf->nslots * 32);
    w->fp = f->fp;
    memcpy(w->lane_pc, f->lane_pc, sizeof(w->lane_pc));
    w->pc = f->ret_pc;
    w->active = back;
    w->waiting = f->waiting & ~w->exited;
    w->resync = w->waiting ? min_waiting_pc(w, NULL) : UINT32_MAX;
}

/* After lanes left the running group: find the next group to run, popping finished calls.
 * Returns 1 when the warp has finished. */
static int settle(struct exec *E, struct warp *w)
{
    while (!w->active) {
        if (w->waiting) {
            resched(w);
            return 0;
        }
        if (!w->nframes) {
            w->state = W_DONE;
            return 1;
        }
        pop_frame(E, w);
    }
    if (w->resync < w->pc) {
        for (uint32_t s = w->active; s; s &= s - 1)
            w->lane_pc[__builtin_ctz(s)] = w->pc;
        w->waiting |= w->active;
        w->active = 0;
        resched(w);
    }
    return 0;
}

/* ---- barriers ---- */

static void bar_complete(struct cta *c, unsigned id)
{
    struct barrier *b = &c->bars[id];
    for (uint32_t s = b->waiters; s; s &= s - 1) {
        struct warp *w = &c->warps[__builtin_ctz(s)];
        const struct xinsn *x = &w->xf->code[w->pc - 1];
        w->state = W_RUN;
        if (x->op == X_BAR && x->w == PTX_BAR_RED && x->d != UINT32_MAX) {
            uint64_t v;
            switch (x->am) {
            case PTX_BOOL_POPC: v = b->popc; break;
            case PTX_BOOL_AND: v = !b->all_false; break;
            default: v = b->any; break;
            }
            if (x->sp) {
                w->preds[x->d] = v ? (w->preds[x->d] | w->bar_mask) : (w->preds[x->d] & ~w->bar_mask);
            } else {
                for (uint32_t t = w->bar_mask; t; t &= t - 1)
                    w->regs[(size_t)x->d * 32 + __builtin_ctz(t)] = v;
            }
        }
    }
    memset(b, 0, sizeof(*b));
}

static void bar_check(struct cta *c, unsigned id)
{
    struct barrier *b = &c->bars[id];
    if (!b->arrived)
        return;
    uint32_t expected = b->count ? b->count : c->nthreads - c->exited;
    if (b->arrived >= expected)
        bar_complete(c, id);
}

/* Returns 1 when the warp blocks, 0 to go on, -1 on a fault. */
static int do_bar(struct exec *E, struct warp *w, const struct xinsn *x, uint32_t m)
{
    struct cta *c = w->cta;
    unsigned l0 = (unsigned)__builtin_ctz(m);
    uint64_t id = w->regs[(size_t)x->a * 32 + l0];
    uint32_t count = x->b != UINT32_MAX ? (uint32_t)w->regs[(size_t)x->b * 32 + l0] : 0;
    if (id >= 16) {
        fault(E, w, l0, x, PTX_FAULT_TRAP, 0, "barrier %" PRIu64 " does not exist (0..15)", id);
        return -1;
    }
    struct barrier *b = &c->bars[id];
    if (b->arrived && b->count != count) {
        fault(E, w, l0, x, PTX_FAULT_BARRIER, 0,
              "barrier %" PRIu64 " used with thread counts %u and %u at once", id, b->count,
              count);
        return -1;
    }
    b->count = count;
    b->arrived += (uint32_t)__builtin_popcount(m);
    if (x->w == PTX_BAR_RED) {
        uint32_t p = w->preds[x->c];
        if (x->fl & XF_CNEG)
            p = ~p;
        p &= m;
        b->popc += (uint32_t)__builtin_popcount(p);
        if (p)
            b->any = 1;
        if (p != m)
            b->all_false = 1;
    }
    if (x->w == PTX_BAR_ARRIVE) {
        bar_check(c, (unsigned)id);
        return 0;
    }
    w->state = W_BAR;
    w->bar_mask = m;
    b->waiters |= 1u << w->id;
    bar_check(c, (unsigned)id);
    return w->state == W_BAR ? 1 : 0;
}

/* Lanes of m exit: they stop counting for barriers. */
static void lanes_exit(struct warp *w, uint32_t m)
{
    struct cta *c = w->cta;
    w->exited |= m;
    w->active &= ~m;
    c->exited += (uint32_t)__builtin_popcount(m);
    for (unsigned i = 0; i < 16; i++)
        bar_check(c, i);
}

/* ---- built-in functions ---- */

static const char *str_at(void *ctx, uint64_t addr, size_t *max)
{
    void **c = ctx;
    struct exec *E = c[0];
    struct warp *w = c[1];
    unsigned lane = (unsigned)(uintptr_t)c[2];
    return (const char *)span(E, w, lane, addr, max);
}

static uint64_t arg_u64(struct warp *w, unsigned lane, uint32_t off, unsigned size)
{
    uint8_t *p = local_of(w, lane) + w->fp + off;
    return rd_bytes(p, size);
}

static void builtin_call(struct exec *E, struct warp *w, const struct xinsn *x, uint32_t m)
{
    const struct xfunc *cf = &E->prog->funcs[x->a];
    const uint32_t *list = E->prog->lists + x->aux;
    uint32_t na = list[0], nr = list[1 + na];
    if (cf->builtin == XB_VPRINTF) {
        if (na < 1)
            return;
        for (uint32_t s = m; s; s &= s - 1) {
            unsigned l = (unsigned)__builtin_ctz(s);
            uint64_t fa = arg_u64(w, l, list[1], 8);
            uint64_t aa = na > 1 ? arg_u64(w, l, list[2], 8) : 0;
            size_t fmax = 0, amax = 0;
            const char *fmt = (const char *)span(E, w, l, fa, &fmax);
            const uint8_t *args = aa ? span(E, w, l, aa, &amax) : NULL;
            int len = -1;
            if (fmt) {
                char f[4096], out[8192];
                size_t fl = strnlen(fmt, fmax < sizeof(f) - 1 ? fmax : sizeof(f) - 1);
                memcpy(f, fmt, fl);
                f[fl] = 0;
                void *ctx[3] = {E, w, (void *)(uintptr_t)l};
                size_t n = xprintf_format(out, sizeof(out), f, args, args ? amax : 0, str_at, ctx);
                char *big = NULL;
                const char *text = out;
                if (n >= sizeof(out) && n < PRINTF_MAX && (big = malloc(n + 1))) {
                    /* A long %s: format again into a buffer that holds all of it. */
                    xprintf_format(big, n + 1, f, args, args ? amax : 0, str_at, ctx);
                    text = big;
                } else if (n >= sizeof(out)) {
                    n = sizeof(out) - 1;
                }
                /* One call's output stays together: write() until all of it is out. */
                for (size_t done = 0; done < n;) {
                    ssize_t wr = write(E->L->printf_fd, text + done, n - done);
                    if (wr <= 0)
                        break;
                    done += (size_t)wr;
                }
                free(big);
                len = (int)n;
            }
            if (nr)
                wr_bytes(local_of(w, l) + w->fp + list[2 + na], (uint32_t)len, 4);
        }
        return;
    }
    /* __assertfail(message, file, line, function, charSize) */
    unsigned l = (unsigned)__builtin_ctz(m);
    char msg[1024] = "?", file[512] = "?", func[512] = "?";
    uint32_t line = 0;
    if (na >= 4) {
        const char *s;
        size_t max = 0;
        void *ctx[3] = {E, w, (void *)(uintptr_t)l};
        (void)ctx;
        if ((s = (const char *)span(E, w, l, arg_u64(w, l, list[1], 8), &max)))
            snprintf(msg, sizeof(msg), "%.*s", (int)strnlen(s, max < 1000 ? max : 1000), s);
        if ((s = (const char *)span(E, w, l, arg_u64(w, l, list[2], 8), &max)))
            snprintf(file, sizeof(file), "%.*s", (int)strnlen(s, max < 500 ? max : 500), s);
        line = (uint32_t)arg_u64(w, l, list[3], 4);
        if ((s = (const char *)span(E, w, l, arg_u64(w, l, list[4], 8), &max)))
            snprintf(func, sizeof(func), "%.*s", (int)strnlen(s, max < 500 ? max : 500), s);
    }
    struct cta *c = w->cta;
    char out[2300];
    int n = snprintf(out, sizeof(out),
                     "%s:%u: %s: block: [%u,%u,%u], thread: [%u,%u,%u] Assertion `%s` failed.\n",
                     file, line, func, c->id[0], c->id[1], c->id[2], w->tid[0][l], w->tid[1][l],
                     w->tid[2][l], msg);
    if (n > 0) {
        ssize_t wr = write(2, out, (size_t)n < sizeof(out) ? (size_t)n : sizeof(out) - 1);
        (void)wr;
    }
    fault(E, w, l, x, PTX_FAULT_ASSERT, 0, "assertion `%s` failed (%s:%u)", msg, file, line);
}

/* ---- special registers ---- */

static void read_sreg(struct exec *E, struct warp *w, const struct xinsn *x, uint32_t m,
                      uint64_t cnt)
{
    const struct ptx_launch *L = E->L;
    struct cta *c = w->cta;
    uint64_t *D = w->regs + (size_t)x->d * 32;
    uint64_t v = 0;
    unsigned s = x->a;
    switch (s) {
    case PTX_SREG_TID_X: case PTX_SREG_TID_Y: case PTX_SREG_TID_Z:
        for (unsigned l = 0; l < 32; l++)
            if ((m >> l) & 1)
                D[l] = w->tid[s - PTX_SREG_TID_X][l];
        return;
    case PTX_SREG_LANEID:
        for (unsigned l = 0; l < 32; l++)
            if ((m >> l) & 1)
                D[l] = l;
        return;
    case PTX_SREG_LANEMASK_EQ: case PTX_SREG_LANEMASK_LE: case PTX_SREG_LANEMASK_LT:
    case PTX_SREG_LANEMASK_GE: case PTX_SREG_LANEMASK_GT:
        for (unsigned l = 0; l < 32; l++) {
            if (!((m >> l) & 1))
                continue;
            uint32_t eq = 1u << l, lt = eq - 1;
            switch (s) {
            case PTX_SREG_LANEMASK_EQ: D[l] = eq; break;
            case PTX_SREG_LANEMASK_LE: D[l] = lt | eq; break;
            case PTX_SREG_LANEMASK_LT: D[l] = lt; break;
            case PTX_SREG_LANEMASK_GE: D[l] = ~lt; break;
            default: D[l] = ~(lt | eq); break;
            }
        }
        return;
    case PTX_SREG_NTID_X: v = L->block[0]; break;
    case PTX_SREG_NTID_Y: v = L->block[1]; break;
    case PTX_SREG_NTID_Z: v = L->block[2]; break;
    case PTX_SREG_CTAID_X: v = c->id[0]; break;
    case PTX_SREG_CTAID_Y: v = c->id[1]; break;
    case PTX_SREG_CTAID_Z: v = c->id[2]; break;
    case PTX_SREG_NCTAID_X: v = L->grid[0]; break;
    case PTX_SREG_NCTAID_Y: v = L->grid[1]; break;
    case PTX_SREG_NCTAID_Z: v = L->grid[2]; break;
    case PTX_SREG_WARPID: v = w->id; break;
    case PTX_SREG_NWARPID: v = 64; break;
    case PTX_SREG_SMID: v = L->sm_count ? c->linear % L->sm_count : 0; break;
    case PTX_SREG_NSMID: v = L->sm_count; break;
    case PTX_SREG_GRIDID: v = L->grid_id; break;
    case PTX_SREG_CLOCK: v = (uint32_t)warp_clock(w, cnt); break;
    case PTX_SREG_CLOCK_HI: v = (uint32_t)(warp_clock(w, cnt) >> 32); break;
    case PTX_SREG_CLOCK64: v = warp_clock(w, cnt); break;
    case PTX_SREG_GLOBALTIMER: v = host_ns(CLOCK_REALTIME); break;
    case PTX_SREG_GLOBALTIMER_LO: v = (uint32_t)host_ns(CLOCK_REALTIME); break;
    case PTX_SREG_GLOBALTIMER_HI: v = (uint32_t)(host_ns(CLOCK_REALTIME) >> 32); break;
    case PTX_SREG_DYNAMIC_SMEM_SIZE: v = L->dynamic_shared_bytes; break;
    case PTX_SREG_TOTAL_SMEM_SIZE: v = E->shared_bytes; break;
    default:
        if (s == PTX_SREG_ENVREG0 + 1 && L->cooperative)
            v = XW_GRIDWS_WINDOW >> 32;
        else if (s == PTX_SREG_ENVREG0 + 2 && L->cooperative)
            v = (uint32_t)XW_GRIDWS_WINDOW;
        else
            v = 0;
        break;
    }
    for (unsigned l = 0; l < 32; l++)
        if ((m >> l) & 1)
            D[l] = v;
}

/* ---- warp-wide operations ---- */

static void do_shfl(struct warp *w, const struct xinsn *x, uint32_t m)
{
    uint64_t *regs = w->regs;
    uint64_t src[32];
    memcpy(src, regs + (size_t)x->a * 32, sizeof(src));
    const uint64_t *B = regs + (size_t)x->b * 32, *C = regs + (size_t)x->c * 32;
    uint64_t *D = regs + (size_t)x->d * 32;
    uint32_t pv = 0;
    for (unsigned l = 0; l < 32; l++) {
        if (!((m >> l) & 1))
            continue;
        int bval = (int)(B[l] & 31), cval = (int)(C[l] & 31), seg = (int)((C[l] >> 8) & 31);
        int lane = (int)l;
        int maxl = (lane & seg) | (cval & ~seg), minl = lane & seg;
        int j, p;
        switch (x->w) {
        case PTX_SHFL_UP: j = lane - bval; p = j >= maxl; break;
        case PTX_SHFL_DOWN: j = lane + bval; p = j <= maxl; break;
        case PTX_SHFL_BFLY: j = lane ^ bval; p = j <= maxl; break;
        default: j = minl | (bval & ~seg); p = j <= maxl; break;
        }
        if (!p)
            j = lane;
        D[l] = (uint32_t)src[j];
        if (p)
            pv |= 1u << l;
    }
    if (x->aux != UINT32_MAX)
        w->preds[x->aux] = (w->preds[x->aux] & ~m) | (pv & m);
}

static void do_match(struct warp *w, const struct xinsn *x, uint32_t m)
{
    uint64_t *regs = w->regs;
    const uint64_t *A = regs + (size_t)x->a * 32;
    uint64_t *D = regs + (size_t)x->d * 32;
    uint64_t mask = x->sp >= 8 ? ~0ull : 0xffffffffull;
    if (x->w == PTX_VOTE_ANY) {
        uint32_t out[32];
        for (unsigned l = 0; l < 32; l++) {
            if (!((m >> l) & 1))
                continue;
            uint32_t peers = 0;
            for (unsigned k = 0; k < 32; k++)
                if (((m >> k) & 1) && (A[k] & mask) == (A[l] & mask))
                    peers |= 1u << k;
            out[l] = peers;
        }
        for (unsigned l = 0; l < 32; l++)
            if ((m >> l) & 1)
                D[l] = out[l];
        return;
    }
    unsigned l0 = (unsigned)__builtin_ctz(m);
    int same = 1;
    for (unsigned l = 0; l < 32; l++)
        if (((m >> l) & 1) && (A[l] & mask) != (A[l0] & mask))
            same = 0;
    for (unsigned l = 0; l < 32; l++)
        if ((m >> l) & 1)
            D[l] = same ? m : 0;
    if (x->aux != UINT32_MAX)
        w->preds[x->aux] = same ? (w->preds[x->aux] | m) : (w->preds[x->aux] & ~m);
}

static void do_redux(struct warp *w, const struct xinsn *x, uint32_t m)
{
    uint64_t *regs = w->regs;
    const struct ptx_insn *pi = &w->xf->fn->insns[x->src];
    const uint64_t *A = regs + (size_t)x->a * 32;
    uint64_t *D = regs + (size_t)x->d * 32;
    int s = pi->type == PTX_T_S32;
    unsigned l0 = (unsigned)__builtin_ctz(m);
    uint32_t acc = (uint32_t)A[l0];
    for (unsigned l = l0 + 1; l < 32; l++) {
        if (!((m >> l) & 1))
            continue;
        uint32_t v = (uint32_t)A[l];
        switch (x->w) {
        case PTX_ATOM_ADD: acc += v; break;
        case PTX_ATOM_AND: acc &= v; break;
        case PTX_ATOM_OR: acc |= v; break;
        case PTX_ATOM_XOR: acc ^= v; break;
        case PTX_ATOM_MIN:
            acc = s ? ((int32_t)v < (int32_t)acc ? v : acc) : (v < acc ? v : acc);
            break;
        default:
            acc = s ? ((int32_t)v > (int32_t)acc ? v : acc) : (v > acc ? v : acc);
            break;
        }
    }
    for (unsigned l = 0; l < 32; l++)
        if ((m >> l) & 1)
            D[l] = acc;
}

static int cmp_f64(unsigned cmp, double a, double b)
{
    switch (cmp) {
    case PTX_CMP_EQ: return a == b;
    case PTX_CMP_NE: return a < b || a > b;
    case PTX_CMP_LT: return a < b;
    case PTX_CMP_LE: return a <= b;
    case PTX_CMP_GT: return a > b;
    case PTX_CMP_GE: return a >= b;
    case PTX_CMP_EQU: return !(a < b || a > b);
    case PTX_CMP_NEU: return !(a == b);
    case PTX_CMP_LTU: return !(a >= b);
    case PTX_CMP_LEU: return !(a > b);
    case PTX_CMP_GTU: return !(a <= b);
    case PTX_CMP_GEU: return !(a < b);
    case PTX_CMP_NUM: return !isnan(a) && !isnan(b);
    case PTX_CMP_NAN: return isnan(a) || isnan(b);
    default: return 0;
    }
}

static int cmp_int(unsigned cmp, unsigned sp, uint64_t x, uint64_t y)
{
    unsigned n = sp & 0x7f;
    if (sp & 0x80) {
        unsigned sh = 64 - 8 * n;
        int64_t a = (int64_t)(x << sh) >> sh, b = (int64_t)(y << sh) >> sh;
        switch (cmp) {
        case PTX_CMP_EQ: return a == b;
        case PTX_CMP_NE: return a != b;
        case PTX_CMP_LT: case PTX_CMP_LO: return a < b;
        case PTX_CMP_LE: case PTX_CMP_LS: return a <= b;
        case PTX_CMP_GT: case PTX_CMP_HI: return a > b;
        default: return a >= b;
        }
    }
    uint64_t msk = n >= 8 ? ~0ull : (1ull << (8 * n)) - 1;
    uint64_t a = x & msk, b = y & msk;
    switch (cmp) {
    case PTX_CMP_EQ: return a == b;
    case PTX_CMP_NE: return a != b;
    case PTX_CMP_LT: case PTX_CMP_LO: return a < b;
    case PTX_CMP_LE: case PTX_CMP_LS: return a <= b;
    case PTX_CMP_GT: case PTX_CMP_HI: return a > b;
    default: return a >= b;
    }
}

static uint32_t combine(unsigned boolop, uint32_t r, uint32_t c)
{
    switch (boolop) {
    case PTX_BOOL_AND: return r & c;
    case PTX_BOOL_OR: return r | c;
    case PTX_BOOL_XOR: return r ^ c;
    default: return r;
    }
}

/* Writes a setp result r (lane bits) to p (and its complement to q) for the lanes of m. */
static void setp_write(struct warp *w, const struct xinsn *x, uint32_t m, uint32_t r)
{
    uint32_t *P = w->preds;
    uint32_t rq = ~r;
    if (x->c != UINT32_MAX) {
        uint32_t c = P[x->c];
        if (x->fl & XF_CNEG)
            c = ~c;
        r = combine(x->am, r, c);
        rq = combine(x->am, rq, c);
    }
    P[x->d] = (P[x->d] & ~m) | (r & m);
    if (x->aux != UINT32_MAX)
        P[x->aux] = (P[x->aux] & ~m) | (rq & m);
}

static float f32_of(uint64_t v)
{
    float f;
    uint32_t u = (uint32_t)v;
    memcpy(&f, &u, 4);
    return f;
}

static uint64_t bits_f32(float f)
{
    uint32_t u;
    memcpy(&u, &f, 4);
    return u;
}

static double f64_of(uint64_t v)
{
    double d;
    memcpy(&d, &v, 8);
    return d;
}

static uint64_t bits_f64(double d)
{
    uint64_t u;
    memcpy(&u, &d, 8);
    return u;
}

/* ---- the interpreter loop ---- */

/* Whether the 4-byte accesses at A[l] + imm of all 32 lanes are aligned and lie in one global
 * region, which it leaves in the warp's region cache (lookup by the lowest address). */
static int glob_span(struct exec *E, struct warp *w, const uint64_t *A, uint64_t imm)
{
    uint64_t lo = UINT64_MAX, hi = 0, any = 0;
    for (unsigned l = 0; l < 32; l++) {
        uint64_t a = A[l] + imm;
        lo = a < lo ? a : lo;
        hi = a > hi ? a : hi;
        any |= a;
    }
    if (any & 3)
        return 0;
    if (lo - w->c_lo >= w->c_len && region_lookup(E, w, lo))
        return 0;
    /* lo is in the region and hi >= lo: the span fits when hi + 4 does. */
    return hi - w->c_lo < w->c_len && w->c_len - (hi - w->c_lo) >= 4;
}

enum { RUN_YIELD, RUN_BLOCKED, RUN_FAULT };

#define LANES_EXPR(expr)                                                                           \
    do {                                                                                           \
        uint64_t *restrict D_ = regs + (size_t)x->d * 32;                                          \
        const uint64_t *A = regs + (size_t)x->a * 32, *B = regs + (size_t)x->b * 32,               \
                       *C = regs + (size_t)x->c * 32;                                              \
        (void)A;                                                                                   \
        (void)B;                                                                                   \
        (void)C;                                                                                   \
        if (m == XFULL) {                                                                          \
            uint64_t t_[32];                                                                       \
            for (unsigned l = 0; l < 32; l++)                                                      \
                t_[l] = (expr);                                                                    \
            memcpy(D_, t_, sizeof(t_));                                                            \
        } else {                                                                                   \
            for (unsigned l = 0; l < 32; l++) {                                                    \
                if ((m >> l) & 1)                                                                  \
                    D_[l] = (expr);                                                                \
            }                                                                                      \
        }                                                                                          \
    } while (0)

/* On x86-64 the loop is also built for x86-64-v3 (AVX2, FMA, POPCNT) and picked on the first
 * launch from what cpuid reports (run_warp_select): the full-mask lane loops then process four
 * u64 lanes per instruction, fma.f32 is one instruction instead of a libm call, and popcount is
 * inline. Results are identical: IEEE add/mul/fma are exactly rounded on both paths. The choice
 * is made by hand rather than with target_clones, whose ifunc resolver needs libgcc's CPU probe
 * to run as a library constructor, and a gpool libcuda runs none. */
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define EXEC_HAVE_V3 1
#include <cpuid.h>
#endif
static XINLINE int run_warp_body(struct exec *E, struct warp *w)
{
    const struct xinsn *code = w->xf->code;
    uint64_t *regs = w->regs;
    uint32_t *P = w->preds;
    uint32_t pc = w->pc, active = w->active;
    /* w->resync changes only in calls that are followed by LOAD(); kept in a local because the
     * stores of memory instructions could alias it. */
    uint32_t resync = w->resync;
    /* Lane count of the last executed mask: masks repeat, and popcount is a library call on
     * baseline x86-64. */
    uint32_t pop_m = 0, pop_n = 0;
    uint64_t cnt = 0;
    unsigned budget = QUANTUM;
    int ret = RUN_YIELD;

#define SAVE() (w->pc = pc, w->active = active)
#define LOAD()                                                                                     \
    (code = w->xf->code, regs = w->regs, P = w->preds, pc = w->pc, active = w->active,            \
     resync = w->resync)

    for (;;) {
        if (__builtin_expect(pc == resync, 0)) {
            SAVE();
            merge(w);
            LOAD();
        }
        const struct xinsn *x = &code[pc];
        uint32_t m = active;
        if (x->guard) {
            uint32_t g = P[x->guard - 1];
            m &= (x->fl & XF_GNEG) ? ~g : g;
        }
        if (__builtin_expect(!m, 0)) {
            pc++;
            continue;
        }
        /* Only lanes whose guard holds execute the instruction. */
        if (__builtin_expect(m != pop_m, 0)) {
            pop_m = m;
            pop_n = (uint32_t)__builtin_popcount(m);
        }
        cnt += pop_n;
        switch ((enum xop)x->op) {
        case X_NOP:
        case X_WARPSYNC:
            break;
        case X_FENCE:
            atomic_thread_fence(memory_order_seq_cst);
            break;
        case X_MOV: {
            uint64_t msk = x->w >= 8 ? ~0ull : (1ull << (8 * x->w)) - 1;
            LANES_EXPR(A[l] & msk);
            break;
        }
        case X_MOVP: {
            uint32_t v = x->w ? (x->imm ? XFULL : 0) : P[x->a];
            if (!x->w && (x->fl & XF_ANEG))
                v = ~v;
            P[x->d] = (P[x->d] & ~m) | (v & m);
            break;
        }
        case X_SREG:
            SAVE();
            read_sreg(E, w, x, m, cnt);
            break;
        case X_SYMADDR: {
            uint64_t v = addr_of(E, w, x, regs, 0);
            LANES_EXPR(v);
            break;
        }
        case X_PACK: {
            const uint32_t *list = E->prog->lists + x->aux;
            unsigned eb = x->w;
            uint64_t emask = eb >= 8 ? ~0ull : (1ull << (8 * eb)) - 1;
            uint64_t *D = regs + (size_t)x->d * 32;
            for (unsigned l = 0; l < 32; l++) {
                if (!((m >> l) & 1))
                    continue;
                uint64_t v = 0;
                for (unsigned i = 0; i < x->c; i++)
                    v |= (regs[(size_t)list[i] * 32 + l] & emask) << (8 * eb * i);
                D[l] = v;
            }
            break;
        }
        case X_UNPACK: {
            const uint32_t *list = E->prog->lists + x->aux;
            unsigned eb = x->w;
            uint64_t emask = eb >= 8 ? ~0ull : (1ull << (8 * eb)) - 1;
            const uint64_t *A = regs + (size_t)x->a * 32;
            uint64_t src[32];
            memcpy(src, A, sizeof(src));
            for (unsigned l = 0; l < 32; l++) {
                if (!((m >> l) & 1))
                    continue;
                for (unsigned i = 0; i < x->c; i++)
                    regs[(size_t)list[i] * 32 + l] = (src[l] >> (8 * eb * i)) & emask;
            }
            break;
        }
        case X_ADD32: LANES_EXPR((uint32_t)(A[l] + B[l])); break;
        case X_ADD64: LANES_EXPR(A[l] + B[l]); break;
        case X_SUB32: LANES_EXPR((uint32_t)(A[l] - B[l])); break;
        case X_SUB64: LANES_EXPR(A[l] - B[l]); break;
        case X_MULLO32: LANES_EXPR((uint32_t)(A[l] * B[l])); break;
        case X_MULLO64: LANES_EXPR(A[l] * B[l]); break;
        case X_MULWIDE_S32: LANES_EXPR((uint64_t)((int64_t)(int32_t)A[l] * (int32_t)B[l])); break;
        case X_MULWIDE_U32: LANES_EXPR((uint64_t)(uint32_t)A[l] * (uint32_t)B[l]); break;
        case X_MADLO32: LANES_EXPR((uint32_t)(A[l] * B[l] + C[l])); break;
        case X_MADLO64: LANES_EXPR(A[l] * B[l] + C[l]); break;
        case X_MADWIDE_S32:
            LANES_EXPR((uint64_t)((int64_t)(int32_t)A[l] * (int32_t)B[l]) + C[l]);
            break;
        case X_MADWIDE_U32: LANES_EXPR((uint64_t)(uint32_t)A[l] * (uint32_t)B[l] + C[l]); break;
        case X_AND: LANES_EXPR(A[l] & B[l]); break;
        case X_OR: LANES_EXPR(A[l] | B[l]); break;
        case X_XOR: LANES_EXPR(A[l] ^ B[l]); break;
        case X_SHL32:
            LANES_EXPR((uint32_t)B[l] >= 32 ? 0 : (uint32_t)(A[l] << (B[l] & 31)));
            break;
        case X_SHL64: LANES_EXPR((uint32_t)B[l] >= 64 ? 0 : A[l] << (B[l] & 63)); break;
        case X_SHRU32:
            LANES_EXPR((uint32_t)B[l] >= 32 ? 0 : (uint32_t)A[l] >> (B[l] & 31));
            break;
        case X_SHRS32:
            LANES_EXPR((uint32_t)((int32_t)A[l] >> ((uint32_t)B[l] >= 32 ? 31 : (B[l] & 31))));
            break;
        case X_SHRU64: LANES_EXPR((uint32_t)B[l] >= 64 ? 0 : A[l] >> (B[l] & 63)); break;
        case X_SHRS64:
            LANES_EXPR((uint64_t)((int64_t)A[l] >> ((uint32_t)B[l] >= 64 ? 63 : (B[l] & 63))));
            break;
        case X_ADDF32: LANES_EXPR(bits_f32(f32_of(A[l]) + f32_of(B[l]))); break;
        case X_SUBF32: LANES_EXPR(bits_f32(f32_of(A[l]) - f32_of(B[l]))); break;
        case X_MULF32: LANES_EXPR(bits_f32(f32_of(A[l]) * f32_of(B[l]))); break;
        case X_FMAF32: LANES_EXPR(bits_f32(fmaf(f32_of(A[l]), f32_of(B[l]), f32_of(C[l])))); break;
        case X_ADDF64: LANES_EXPR(bits_f64(f64_of(A[l]) + f64_of(B[l]))); break;
        case X_SUBF64: LANES_EXPR(bits_f64(f64_of(A[l]) - f64_of(B[l]))); break;
        case X_MULF64: LANES_EXPR(bits_f64(f64_of(A[l]) * f64_of(B[l]))); break;
        case X_FMAF64: LANES_EXPR(bits_f64(fma(f64_of(A[l]), f64_of(B[l]), f64_of(C[l])))); break;
        case X_CVT_ZX:
        case X_CVT_SX: {
            unsigned sb = x->w, db = x->am, rb = x->sp;
            int dsign = (x->fl & XF_ANEG) != 0;
            int ssign = x->op == X_CVT_SX;
            LANES_EXPR(extend(extend(A[l], sb, 8, ssign), 8 < db ? 8 : db, 8, 0) &
                           (db >= 8 ? ~0ull : (1ull << (8 * db)) - 1));
            if (dsign && rb > db) {
                uint64_t *D = regs + (size_t)x->d * 32;
                for (unsigned l = 0; l < 32; l++)
                    if ((m >> l) & 1)
                        D[l] = extend(D[l], db, rb, 1);
            }
            break;
        }
        case X_CVT: {
            const struct ptx_insn *pi = &w->xf->fn->insns[x->src];
            unsigned rb = x->sp;
            if (x->w == 2) {
                unsigned ht = pi->type == PTX_T_F16X2 ? PTX_T_F16 : PTX_T_BF16;
                LANES_EXPR((ptx_fp_cvt(ht, pi->type2, pi->rnd, pi->flags, A[l]) & 0xffff) << 16 |
                           (ptx_fp_cvt(ht, pi->type2, pi->rnd, pi->flags, B[l]) & 0xffff));
                break;
            }
            LANES_EXPR(xalu_cvt(pi, A[l], rb));
            break;
        }
        case X_ALU: {
            const struct ptx_insn *pi = &w->xf->fn->insns[x->src];
            const uint64_t *A = regs + (size_t)x->a * 32, *B = regs + (size_t)x->b * 32,
                           *C = regs + (size_t)x->c * 32, *Ex = regs + (size_t)x->aux * 32;
            uint64_t *D = regs + (size_t)x->d * 32;
            unsigned nsrc = pi->nops - 1;
            for (unsigned l = 0; l < 32; l++) {
                if (!((m >> l) & 1))
                    continue;
                unsigned carry = (w->cc >> l) & 1;
                uint64_t v = xalu_eval(pi, A[l], nsrc > 1 ? B[l] : 0, nsrc > 2 ? C[l] : 0,
                                       nsrc > 3 ? Ex[l] : 0, &carry);
                D[l] = v;
                w->cc = (w->cc & ~(1u << l)) | (carry << l);
            }
            break;
        }
        case X_SETP_I: {
            const uint64_t *A = regs + (size_t)x->a * 32, *B = regs + (size_t)x->b * 32;
            uint32_t r = 0;
            unsigned cmp = x->w, sp = x->sp;
            /* One loop per comparison and width, as cmp_int decides them (the signedness comes
             * from the type, so lt and lo compare alike). */
#define SETP_LOOPS(T)                                                                              \
    switch (cmp) {                                                                                 \
    case PTX_CMP_EQ: SETP_LOOP(T, ==); break;                                                      \
    case PTX_CMP_NE: SETP_LOOP(T, !=); break;                                                      \
    case PTX_CMP_LT: case PTX_CMP_LO: SETP_LOOP(T, <); break;                                      \
    case PTX_CMP_LE: case PTX_CMP_LS: SETP_LOOP(T, <=); break;                                     \
    case PTX_CMP_GT: case PTX_CMP_HI: SETP_LOOP(T, >); break;                                      \
    default: SETP_LOOP(T, >=); break;                                                              \
    }
#define SETP_LOOP(T, OP)                                                                           \
    for (unsigned l = 0; l < 32; l++)                                                              \
        r |= (uint32_t)((T)A[l] OP(T) B[l]) << l
            if (sp == (0x80 | 4)) {
                SETP_LOOPS(int32_t);
            } else if (sp == 4) {
                SETP_LOOPS(uint32_t);
            } else if (sp == (0x80 | 8)) {
                SETP_LOOPS(int64_t);
            } else if (sp == 8) {
                SETP_LOOPS(uint64_t);
#undef SETP_LOOP
#undef SETP_LOOPS
            } else {
                for (unsigned l = 0; l < 32; l++)
                    r |= (uint32_t)cmp_int(cmp, sp, A[l], B[l]) << l;
            }
            setp_write(w, x, m, r);
            break;
        }
        case X_SETP_F32: {
            const uint64_t *A = regs + (size_t)x->a * 32, *B = regs + (size_t)x->b * 32;
            uint32_t r = 0;
            for (unsigned l = 0; l < 32; l++)
                r |= (uint32_t)cmp_f64(x->w, f32_of(A[l]), f32_of(B[l])) << l;
            setp_write(w, x, m, r);
            break;
        }
        case X_SETP_F64: {
            const uint64_t *A = regs + (size_t)x->a * 32, *B = regs + (size_t)x->b * 32;
            uint32_t r = 0;
            for (unsigned l = 0; l < 32; l++)
                r |= (uint32_t)cmp_f64(x->w, f64_of(A[l]), f64_of(B[l])) << l;
            setp_write(w, x, m, r);
            break;
        }
        case X_SETP_X: {
            const struct ptx_insn *pi = &w->xf->fn->insns[x->src];
            const uint64_t *A = regs + (size_t)x->a * 32, *B = regs + (size_t)x->b * 32;
            uint32_t r = 0, r2 = 0;
            int x2 = pi->type == PTX_T_F16X2 || pi->type == PTX_T_BF16X2;
            for (unsigned l = 0; l < 32; l++) {
                if (!((m >> l) & 1))
                    continue;
                uint64_t v = x->w == 0xff ? (uint64_t)ptx_fp_testp(pi->mode, pi->type, A[l])
                                          : xalu_setp(pi, A[l], B[l]);
                r |= (uint32_t)(v & 1) << l;
                r2 |= (uint32_t)((v >> 1) & 1) << l;
            }
            if (x2 && x->aux != UINT32_MAX) {
                /* Two halves: p gets the low result, q the high one. */
                uint32_t c = XFULL;
                if (x->c != UINT32_MAX)
                    c = (x->fl & XF_CNEG) ? ~P[x->c] : P[x->c];
                uint32_t a = x->c != UINT32_MAX ? combine(x->am, r, c) : r;
                uint32_t b = x->c != UINT32_MAX ? combine(x->am, r2, c) : r2;
                P[x->d] = (P[x->d] & ~m) | (a & m);
                P[x->aux] = (P[x->aux] & ~m) | (b & m);
            } else {
                setp_write(w, x, m, r);
            }
            break;
        }
        case X_SET: {
            const struct ptx_insn *pi = &w->xf->fn->insns[x->src];
            const uint64_t *A = regs + (size_t)x->a * 32, *B = regs + (size_t)x->b * 32;
            uint64_t *D = regs + (size_t)x->d * 32;
            unsigned dt = pi->type;
            int x2 = dt == PTX_T_F16X2 || dt == PTX_T_BF16X2;
            uint64_t one = dt == PTX_T_F32 ? 0x3f800000u
                           : (dt == PTX_T_F16 || dt == PTX_T_F16X2) ? 0x3c00u
                           : (dt == PTX_T_BF16 || dt == PTX_T_BF16X2) ? 0x3f80u
                           : ptx_type_size(dt) >= 8 ? ~0ull
                                                    : (1ull << (8 * ptx_type_size(dt))) - 1;
            for (unsigned l = 0; l < 32; l++) {
                if (!((m >> l) & 1))
                    continue;
                uint64_t v = xalu_setp(pi, A[l], B[l]);
                unsigned c = 1;
                if (x->c != UINT32_MAX) {
                    c = (P[x->c] >> l) & 1;
                    if (x->fl & XF_CNEG)
                        c ^= 1;
                }
                unsigned r0 = combine(x->am, v & 1, c) & 1;
                unsigned r1 = combine(x->am, (v >> 1) & 1, c) & 1;
                D[l] = x2 ? (r0 ? one : 0) | (r1 ? one << 16 : 0) : (r0 ? one : 0);
            }
            break;
        }
        case X_SELP: {
            uint32_t c = P[x->c];
            if (x->fl & XF_CNEG)
                c = ~c;
            uint64_t msk = x->w >= 8 ? ~0ull : (1ull << (8 * x->w)) - 1;
            LANES_EXPR((((c >> l) & 1) ? A[l] : B[l]) & msk);
            break;
        }
        case X_SLCT: {
            const struct ptx_insn *pi = &w->xf->fn->insns[x->src];
            int fc = pi->type2 == PTX_T_F32;
            uint64_t msk = x->w >= 8 ? ~0ull : (1ull << (8 * x->w)) - 1;
            LANES_EXPR(((fc ? f32_of(C[l]) >= 0.0f : (int32_t)C[l] >= 0) ? A[l] : B[l]) & msk);
            break;
        }
        case X_PLOGIC: {
            uint32_t a = P[x->a], b = 0, r;
            if (x->fl & XF_ANEG)
                a = ~a;
            if (x->w != PTX_OP_NOT) {
                b = P[x->b];
                if (x->fl & XF_BNEG)
                    b = ~b;
            }
            switch (x->w) {
            case PTX_OP_AND: r = a & b; break;
            case PTX_OP_OR: r = a | b; break;
            case PTX_OP_XOR: r = a ^ b; break;
            default: r = ~a; break;
            }
            P[x->d] = (P[x->d] & ~m) | (r & m);
            break;
        }
        case X_LD:
        case X_ST:
            SAVE();
            if (x->sp == SP_GLOBAL && x->am == AM_REG && x->c == 1 && x->w == 4) {
                /* Scalar 32-bit global access: the hot case. */
                const uint64_t *A = regs + (size_t)x->a * 32;
                uint64_t *V = regs + (size_t)x->d * 32;
                uint64_t imm = (uint64_t)x->imm;
                int st = x->op == X_ST, bad = 0;
                if (m == XFULL && glob_span(E, w, A, imm)) {
                    /* Every lane aligned and inside one region: translated once. */
                    uint8_t *base = w->c_host;
                    uint64_t off = imm - w->c_lo;
                    if (st) {
                        for (unsigned l = 0; l < 32; l++) {
                            uint32_t v = (uint32_t)V[l];
                            memcpy(base + (A[l] + off), &v, 4);
                        }
                    } else if (x->fl & XF_ANEG) {
                        for (unsigned l = 0; l < 32; l++) {
                            uint32_t v;
                            memcpy(&v, base + (A[l] + off), 4);
                            V[l] = extend(v, 4, x->b, 1);
                        }
                    } else {
                        uint64_t t[32];
                        for (unsigned l = 0; l < 32; l++) {
                            uint32_t v;
                            memcpy(&v, base + (A[l] + off), 4);
                            t[l] = v;
                        }
                        memcpy(V, t, sizeof(t));
                    }
                    break;
                }
                uint64_t c_lo = w->c_lo, c_len = w->c_len;
                uint8_t *c_host = w->c_host;
                for (unsigned l = 0; l < 32; l++) {
                    if (!((m >> l) & 1))
                        continue;
                    uint64_t a = A[l] + imm;
                    uint8_t *p;
                    if (!(a & 3) && a - c_lo < c_len && c_len - (a - c_lo) >= 4) {
                        p = c_host + (a - c_lo);
                    } else if (!(p = xlate(E, w, x, SP_GLOBAL, a, 4, l, st))) {
                        bad = 1;
                        break;
                    } else {
                        c_lo = w->c_lo;
                        c_len = w->c_len;
                        c_host = w->c_host;
                    }
                    if (st) {
                        uint32_t v = (uint32_t)V[l];
                        memcpy(p, &v, 4);
                    } else {
                        uint32_t v;
                        memcpy(&v, p, 4);
                        V[l] = (x->fl & XF_ANEG) ? extend(v, 4, x->b, 1) : v;
                    }
                }
                if (bad) {
                    ret = RUN_FAULT;
                    goto out;
                }
            } else if (x->sp == SP_SHARED && (x->am == AM_REG || x->am == AM_ABS) && x->c == 1 &&
                       x->w == 4) {
                /* Scalar 32-bit shared access: one bounds check per lane. */
                const uint64_t *A = regs + (size_t)x->a * 32;
                uint64_t *V = regs + (size_t)x->d * 32;
                uint8_t *sh = w->cta->shared;
                uint64_t lim = E->shared_bytes;
                int st = x->op == X_ST, bad = 0;
                if (m == XFULL && x->am == AM_REG) {
                    uint64_t hi = 0, any = 0, imm = (uint64_t)x->imm;
                    for (unsigned l = 0; l < 32; l++) {
                        uint64_t a = A[l] + imm;
                        hi = a > hi ? a : hi;
                        any |= a;
                    }
                    /* All lanes aligned and below lim - 4 (so no lane wrapped either). */
                    if (!(any & 3) && lim >= 4 && hi <= lim - 4) {
                        uint8_t *base = sh;
                        if (st) {
                            for (unsigned l = 0; l < 32; l++) {
                                uint32_t v = (uint32_t)V[l];
                                memcpy(base + (A[l] + imm), &v, 4);
                            }
                        } else {
                            for (unsigned l = 0; l < 32; l++) {
                                uint32_t v;
                                memcpy(&v, base + (A[l] + imm), 4);
                                V[l] = (x->fl & XF_ANEG) ? extend(v, 4, x->b, 1) : v;
                            }
                        }
                        break;
                    }
                }
                for (unsigned l = 0; l < 32; l++) {
                    if (!((m >> l) & 1))
                        continue;
                    uint64_t a = (x->am == AM_REG ? A[l] : 0) + (uint64_t)x->imm;
                    uint8_t *p;
                    if (!(a & 3) && a < lim && lim - a >= 4)
                        p = sh + a;
                    else if (!(p = xlate(E, w, x, SP_SHARED, a, 4, l, st))) {
                        bad = 1;
                        break;
                    }
                    if (st) {
                        uint32_t v = (uint32_t)V[l];
                        memcpy(p, &v, 4);
                    } else {
                        uint32_t v;
                        memcpy(&v, p, 4);
                        V[l] = (x->fl & XF_ANEG) ? extend(v, 4, x->b, 1) : v;
                    }
                }
                if (bad) {
                    ret = RUN_FAULT;
                    goto out;
                }
            } else if (mem_op(E, w, x, m)) {
                ret = RUN_FAULT;
                goto out;
            }
            break;
        case X_ATOM:
            SAVE();
            if (atom_op(E, w, x, m)) {
                ret = RUN_FAULT;
                goto out;
            }
            break;
        case X_CVTA: {
            uint64_t msk = x->w >= 8 ? ~0ull : (1ull << (8 * x->w)) - 1;
            uint64_t add = (uint64_t)x->imm;
            LANES_EXPR((A[l] + add) & msk);
            break;
        }
        case X_ISSPACEP: {
            const uint64_t *A = regs + (size_t)x->a * 32;
            uint32_t r = 0;
            for (unsigned l = 0; l < 32; l++) {
                uint64_t a = A[l];
                int sh = a - PTX_SHARED_WINDOW < PTX_WINDOW_SIZE;
                int lo = a - PTX_LOCAL_WINDOW < PTX_WINDOW_SIZE;
                int pa = a - XW_PARAM_WINDOW < PTX_WINDOW_SIZE;
                int v;
                switch (x->sp) {
                case PTX_SPACE_SHARED: v = sh; break;
                case PTX_SPACE_LOCAL: v = lo; break;
                case PTX_SPACE_PARAM: v = pa; break;
                default: v = !sh && !lo && !pa; break;
                }
                r |= (uint32_t)v << l;
            }
            P[x->d] = (P[x->d] & ~m) | (r & m);
            break;
        }
        case X_BRA:
            if (m == active && !w->waiting) {
                pc = x->aux;
            } else {
                SAVE();
                jump(w, m, x->aux, pc + 1);
                LOAD();
            }
            if (__builtin_expect(--budget == 0, 0)) {
                ret = RUN_YIELD;
                goto out;
            }
            continue;
        case X_CALL:
            SAVE();
            w->icount += cnt;
            cnt = 0;
            if (do_call(E, w, x, m)) {
                ret = RUN_FAULT;
                goto out;
            }
            if (x->a != XCALL_INDIRECT && E->prog->funcs[x->a].builtin) {
                resync = w->resync;
                pc++;
                continue;
            }
            LOAD();
            continue;
        case X_RET:
            SAVE();
            w->active &= ~m;
            if (w->active) {
                w->pc = pc + 1;
            } else if (settle(E, w)) {
                ret = RUN_BLOCKED;
                goto out_saved;
            }
            LOAD();
            continue;
        case X_EXIT:
            SAVE();
            lanes_exit(w, m);
            if (w->active) {
                w->pc = pc + 1;
            } else {
                /* Exited lanes leave every frame of the call stack too. */
                if (settle(E, w)) {
                    ret = RUN_BLOCKED;
                    goto out_saved;
                }
            }
            LOAD();
            continue;
        case X_TRAP:
            SAVE();
            fault(E, w, (unsigned)__builtin_ctz(m), x, PTX_FAULT_TRAP, 0,
                  x->w ? "brkpt executed" : "trap executed");
            ret = RUN_FAULT;
            goto out;
        case X_BAR: {
            SAVE();
            w->pc = pc + 1;
            int r = do_bar(E, w, x, m);
            if (r < 0) {
                ret = RUN_FAULT;
                goto out_saved;
            }
            if (r > 0) {
                ret = RUN_BLOCKED;
                goto out_saved;
            }
            LOAD();
            continue;
        }
        case X_NANOSLEEP:
            pc++;
            ret = RUN_YIELD;
            goto out;
        case X_SHFL:
            do_shfl(w, x, m);
            break;
        case X_VOTE: {
            uint32_t p = P[x->a];
            if (x->fl & XF_ANEG)
                p = ~p;
            p &= m;
            if (x->w == PTX_VOTE_BALLOT) {
                uint64_t *D = regs + (size_t)x->d * 32;
                for (unsigned l = 0; l < 32; l++)
                    if ((m >> l) & 1)
                        D[l] = p;
            } else {
                int r = x->w == PTX_VOTE_ALL ? p == m : x->w == PTX_VOTE_ANY ? p != 0 : (p == 0 || p == m);
                P[x->d] = r ? (P[x->d] | m) : (P[x->d] & ~m);
            }
            break;
        }
        case X_MATCH:
            do_match(w, x, m);
            break;
        case X_REDUX:
            do_redux(w, x, m);
            break;
        case X_ACTIVEMASK: {
            uint64_t *D = regs + (size_t)x->d * 32;
            for (unsigned l = 0; l < 32; l++)
                if ((m >> l) & 1)
                    D[l] = active;
            break;
        }
        default:
            SAVE();
            fault(E, w, 0, x, PTX_FAULT_TRAP, 0, "internal: unknown lowered op %u", x->op);
            ret = RUN_FAULT;
            goto out;
        }
        pc++;
    }
out:
    SAVE();
out_saved:
    w->icount += cnt;
    w->cta->lane_insns += cnt;
    return ret;
#undef SAVE
#undef LOAD
}

static int run_warp_base(struct exec *E, struct warp *w)
{
    return run_warp_body(E, w);
}

#ifdef EXEC_HAVE_V3
__attribute__((target("arch=x86-64-v3"))) static int run_warp_v3(struct exec *E, struct warp *w)
{
    return run_warp_body(E, w);
}

/* True when the CPU and the OS support everything x86-64-v3 code may use. */
static int cpu_has_v3(void)
{
    unsigned a, b, c, d;
    if (!__get_cpuid(1, &a, &b, &c, &d))
        return 0;
    const unsigned need1 = (1u << 0) | (1u << 9) | (1u << 12) | (1u << 13) | (1u << 19) |
                           (1u << 20) | (1u << 22) | (1u << 23) | (1u << 26) | (1u << 27) |
                           (1u << 28) | (1u << 29); /* SSE3 SSSE3 FMA CX16 SSE4.1/2 MOVBE
                                                       POPCNT XSAVE OSXSAVE AVX F16C */
    if ((c & need1) != need1)
        return 0;
    unsigned lo, hi;
    __asm__("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    if ((lo & 6) != 6) /* the OS saves SSE and AVX state */
        return 0;
    if (!__get_cpuid_count(7, 0, &a, &b, &c, &d))
        return 0;
    const unsigned need7 = (1u << 3) | (1u << 5) | (1u << 8); /* BMI1 AVX2 BMI2 */
    if ((b & need7) != need7)
        return 0;
    if (!__get_cpuid(0x80000001, &a, &b, &c, &d))
        return 0;
    return (c & ((1u << 0) | (1u << 5))) == ((1u << 0) | (1u << 5)); /* LAHF LZCNT */
}
#endif

static int (*run_warp_impl)(struct exec *E, struct warp *w) = run_warp_base;
static pthread_once_t run_warp_once = PTHREAD_ONCE_INIT;

/* GPOOL_SIM_CPU=baseline keeps the baseline loop (tests run both builds of it). */
static void run_warp_select(void)
{
#ifdef EXEC_HAVE_V3
    const char *force = getenv("GPOOL_SIM_CPU");
    if (cpu_has_v3() && !(force && strcmp(force, "baseline") == 0))
        run_warp_impl = run_warp_v3;
#endif
}

static int run_warp(struct exec *E, struct warp *w)
{
    return run_warp_impl(E, w);
}

/* ---- CTAs ---- */

struct worker {
    struct cta *ctas;
    uint32_t nctas;
};

static void cta_init(struct exec *E, struct cta *c, uint32_t linear)
{
    const struct ptx_launch *L = E->L;
    c->E = E;
    c->linear = linear;
    c->id[0] = linear % L->grid[0];
    c->id[1] = (linear / L->grid[0]) % L->grid[1];
    c->id[2] = linear / (L->grid[0] * L->grid[1]);
    c->nthreads = E->nthreads;
    c->nwarps = E->nwarps;
    c->exited = 0;
    memset(c->bars, 0, sizeof(c->bars));
    if (E->shared_bytes)
        memset(c->shared, 0, E->shared_bytes);
    for (uint32_t i = 0; i < c->nwarps; i++) {
        struct warp *w = &c->warps[i];
        w->cta = c;
        w->id = i;
        uint32_t first = i * 32, n = c->nthreads - first < 32 ? c->nthreads - first : 32;
        w->live = n == 32 ? XFULL : (1u << n) - 1;
        w->active = w->live;
        w->waiting = 0;
        w->exited = 0;
        w->resync = UINT32_MAX;
        w->pc = 0;
        w->fp = 0;
        w->cc = 0;
        w->nframes = 0;
        w->state = W_RUN;
        w->icount = 0;
        /* w->tid was filled by worker_alloc. Register frame of the kernel: allocated by worker_alloc. */
        enter_frame(E, w, E->kf, 0);
    }
}

static int worker_alloc(struct exec *E, struct worker *wk, uint32_t nctas)
{
    wk->nctas = nctas;
    wk->ctas = calloc(nctas, sizeof(struct cta));
    if (!wk->ctas)
        return -ENOMEM;
    for (uint32_t i = 0; i < nctas; i++) {
        struct cta *c = &wk->ctas[i];
        c->shared = E->shared_bytes ? malloc(E->shared_bytes) : NULL;
        c->local = E->stack_bytes ? malloc((size_t)E->stack_bytes * E->nwarps * 32) : NULL;
        c->warps = calloc(E->nwarps, sizeof(struct warp));
        if ((E->shared_bytes && !c->shared) || (E->stack_bytes && !c->local) || !c->warps)
            return -ENOMEM;
        for (uint32_t k = 0; k < E->nwarps; k++) {
            struct warp *w = &c->warps[k];
            for (unsigned l = 0; l < 32; l++) {
                uint32_t t = k * 32 + l;
                w->tid[0][l] = t % E->L->block[0];
                w->tid[1][l] = (t / E->L->block[0]) % E->L->block[1];
                w->tid[2][l] = t / (E->L->block[0] * E->L->block[1]);
            }
            size_t need = frame_regbytes(E->kf);
            w->rstack = calloc(1, need);
            if (!w->rstack)
                return -ENOMEM;
            w->rcap = need;
        }
    }
    return 0;
}

static void worker_free(struct exec *E, struct worker *wk)
{
    if (!wk->ctas)
        return;
    uint64_t li = 0;
    for (uint32_t i = 0; i < wk->nctas; i++) {
        struct cta *c = &wk->ctas[i];
        li += c->lane_insns;
        if (c->warps) {
            for (uint32_t k = 0; k < E->nwarps; k++) {
                free(c->warps[k].rstack);
                free(c->warps[k].frames);
            }
        }
        free(c->warps);
        free(c->shared);
        free(c->local);
    }
    free(wk->ctas);
    atomic_fetch_add_explicit(&E->lane_insns, li, memory_order_relaxed);
}

/* Runs resident CTAs until they all finish, a fault stops the launch, or every warp left waits
 * at a barrier that can no longer complete. */
static void run_resident(struct exec *E, struct cta *ctas, uint32_t n)
{
    for (;;) {
        int ran = 0, blocked = 0;
        for (uint32_t i = 0; i < n; i++) {
            struct cta *c = &ctas[i];
            for (uint32_t k = 0; k < c->nwarps; k++) {
                struct warp *w = &c->warps[k];
                if (w->state == W_BAR)
                    blocked = 1;
                if (w->state != W_RUN)
                    continue;
                ran = 1;
                if (run_warp(E, w) == RUN_FAULT)
                    return;
                if (atomic_load_explicit(&E->stop, memory_order_relaxed))
                    return;
            }
        }
        if (!ran) {
            if (blocked) {
                for (uint32_t i = 0; i < n; i++)
                    for (uint32_t k = 0; k < ctas[i].nwarps; k++) {
                        struct warp *w = &ctas[i].warps[k];
                        if (w->state == W_BAR) {
                            const struct xinsn *x = &w->xf->code[w->pc - 1];
                            unsigned id = (unsigned)w->regs[(size_t)x->a * 32 + __builtin_ctz(w->bar_mask)];
                            struct barrier *b = &ctas[i].bars[id & 15];
                            fault(E, w, (unsigned)__builtin_ctz(w->bar_mask), x, PTX_FAULT_BARRIER,
                                  0,
                                  "barrier %u can never complete: %u of %u threads arrived and "
                                  "every other thread has exited or waits elsewhere",
                                  id, b->arrived,
                                  b->count ? b->count : ctas[i].nthreads - ctas[i].exited);
                            return;
                        }
                    }
            }
            return;
        }
    }
}

static void run_worker(struct exec *E)
{
    struct worker wk = {0};
    if (E->L->cooperative) {
        /* Every CTA resident at once on this thread, so grid-wide syncs complete. */
        if (worker_alloc(E, &wk, E->nctas)) {
            fault(E, NULL, 0, NULL, PTX_FAULT_NOMEM, 0, "out of host memory for CTAs");
            goto out;
        }
        for (uint32_t i = 0; i < E->nctas; i++)
            cta_init(E, &wk.ctas[i], i);
        run_resident(E, wk.ctas, E->nctas);
        goto out;
    }
    if (worker_alloc(E, &wk, 1)) {
        fault(E, NULL, 0, NULL, PTX_FAULT_NOMEM, 0, "out of host memory for a CTA");
        goto out;
    }
    for (;;) {
        if (atomic_load_explicit(&E->stop, memory_order_relaxed))
            break;
        uint32_t i = atomic_fetch_add(&E->next_cta, 1);
        if (i >= E->nctas)
            break;
        cta_init(E, &wk.ctas[0], i);
        run_resident(E, wk.ctas, 1);
    }
out:
    worker_free(E, &wk);
}

/* ---- the host thread pool ---- */

struct ticket {
    struct exec *E;
    struct ticket *next;
};

static pthread_mutex_t pool_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t pool_cond = PTHREAD_COND_INITIALIZER;
static struct ticket *pool_head;
static unsigned pool_size, pool_idle;

static void *pool_main(void *arg)
{
    (void)arg;
    pthread_mutex_lock(&pool_lock);
    for (;;) {
        while (!pool_head) {
            pool_idle++;
            pthread_cond_wait(&pool_cond, &pool_lock);
            pool_idle--;
        }
        struct ticket *t = pool_head;
        pool_head = t->next;
        struct exec *E = t->E;
        /* Counted while the ticket is still ours under pool_lock, so the launching thread,
         * which takes back unclaimed tickets under the same lock, waits for this one. */
        pthread_mutex_lock(&E->lock);
        E->started++;
        pthread_mutex_unlock(&E->lock);
        pthread_mutex_unlock(&pool_lock);
        run_worker(E);
        pthread_mutex_lock(&E->lock);
        E->finished++;
        pthread_cond_broadcast(&E->cond);
        pthread_mutex_unlock(&E->lock);
        pthread_mutex_lock(&pool_lock);
    }
    return NULL;
}

/* Makes sure the pool has at least n threads. */
static void pool_grow(unsigned n)
{
    if (n > 256)
        n = 256;
    while (pool_size < n) {
        pthread_t t;
        pthread_attr_t at;
        pthread_attr_init(&at);
        pthread_attr_setdetachstate(&at, PTHREAD_CREATE_DETACHED);
        int r = pthread_create(&t, &at, pool_main, NULL);
        pthread_attr_destroy(&at);
        if (r)
            break;
        pool_size++;
    }
}

int ptx_exec_run(const struct ptx_launch *launch, struct ptx_result *res)
{
    pthread_once(&run_warp_once, run_warp_select);
    struct exec *E = calloc(1, sizeof(*E));
    const struct ptx_program *prog = launch->prog;
    int rc = 0;
    memset(res, 0, sizeof(*res));
    if (!E)
        return -ENOMEM;
    pthread_mutex_init(&E->lock, NULL);
    pthread_cond_init(&E->cond, NULL);
    E->L = launch;
    E->prog = prog;
    E->res = res;
    uint32_t fi = (uint32_t)(launch->fn - prog->mod->funcs);
    E->kf = &prog->funcs[fi];
    E->nctas = launch->grid[0] * launch->grid[1] * launch->grid[2];
    E->nthreads = launch->block[0] * launch->block[1] * launch->block[2];
    E->nwarps = (E->nthreads + 31) / 32;
    E->shared_bytes = prog->static_shared + launch->dynamic_shared_bytes;
    E->stack_bytes = (E->kf->stack_need + 15) / 16 * 16;
    if (E->kf->recursive)
        E->stack_bytes += RECURSION_STACK;
    E->param_size = launch->fn->param_size;
    if (!E->nctas || !E->nthreads)
        goto done;
    /* Regions, plus the cooperative grid workspace. */
    E->regions = calloc(launch->nregions + 1, sizeof(*E->regions));
    E->gridws = calloc(1, XW_GRIDWS_SIZE);
    if (!E->regions || !E->gridws) {
        rc = -ENOMEM;
        goto done;
    }
    {
        size_t k = 0;
        int placed = 0;
        for (size_t i = 0; i < launch->nregions; i++) {
            if (!placed && launch->regions[i].base > XW_GRIDWS_WINDOW) {
                E->regions[k++] = (struct ptx_region){XW_GRIDWS_WINDOW, XW_GRIDWS_SIZE, E->gridws};
                placed = 1;
            }
            E->regions[k++] = launch->regions[i];
        }
        if (!placed)
            E->regions[k++] = (struct ptx_region){XW_GRIDWS_WINDOW, XW_GRIDWS_SIZE, E->gridws};
        E->nregions = k;
    }
    unsigned helpers = 0;
    if (!launch->cooperative) {
        unsigned want = launch->host_threads ? launch->host_threads : 1;
        if (want > E->nctas)
            want = E->nctas;
        helpers = want - 1;
    }
    struct ticket *tickets = helpers ? calloc(helpers, sizeof(*tickets)) : NULL;
    if (helpers && !tickets)
        helpers = 0;
    if (helpers) {
        pthread_mutex_lock(&pool_lock);
        pool_grow(helpers + (pool_size - pool_idle));
        for (unsigned i = 0; i < helpers; i++) {
            tickets[i].E = E;
            tickets[i].next = pool_head;
            pool_head = &tickets[i];
        }
        pthread_cond_broadcast(&pool_cond);
        pthread_mutex_unlock(&pool_lock);
    }
    run_worker(E);
    if (helpers) {
        /* Take back tickets no pool thread picked up, then wait for those that did. */
        pthread_mutex_lock(&pool_lock);
        for (struct ticket **pp = &pool_head; *pp;) {
            if ((*pp)->E == E)
                *pp = (*pp)->next;
            else
                pp = &(*pp)->next;
        }
        pthread_mutex_unlock(&pool_lock);
        pthread_mutex_lock(&E->lock);
        while (E->finished < E->started)
            pthread_cond_wait(&E->cond, &E->lock);
        pthread_mutex_unlock(&E->lock);
    }
    free(tickets);
done:
    res->lane_insns = atomic_load(&E->lane_insns);
    if (res->fault == PTX_FAULT_NOMEM && !rc)
        rc = 0;
    free(E->regions);
    free(E->gridws);
    pthread_mutex_destroy(&E->lock);
    pthread_cond_destroy(&E->cond);
    free(E);
    return rc;
}
