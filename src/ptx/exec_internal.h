/*
 * Private to the executor (exec*.c): the lowered execution form of a program and the run-time
 * state of warps and CTAs. docs/internals/ptx.md, section "The executor", explains the design.
 */
#ifndef GPOOL_PTX_EXEC_INTERNAL_H
#define GPOOL_PTX_EXEC_INTERNAL_H

#include "exec.h"

#include <stdbool.h>
#include <stdint.h>

/* Generic-address window of the kernel parameter block (cvta.param in a kernel), and of the
 * cooperative-launch grid workspace (%envreg1:%envreg2). Private to the executor. */
#define XW_PARAM_WINDOW  0x0001200000000000ull
#define XW_GRIDWS_WINDOW 0x0001300000000000ull
#define XW_GRIDWS_SIZE   256u

#define XFULL 0xffffffffu

/* Lowered opcodes. The hot ones have their own case in the interpreter loop; X_ALU evaluates any
 * other single-result arithmetic instruction lane by lane through a scalar evaluator. */
#define XOPS(X)                                                                                    \
    X(NOP) X(MOV) X(MOVP) X(SREG) X(SYMADDR) X(PACK) X(UNPACK)                                     \
    X(ADD32) X(ADD64) X(SUB32) X(SUB64) X(MULLO32) X(MULLO64) X(MULWIDE_S32) X(MULWIDE_U32)        \
    X(MADLO32) X(MADLO64) X(MADWIDE_S32) X(MADWIDE_U32)                                            \
    X(AND) X(OR) X(XOR) X(SHL32) X(SHL64) X(SHRU32) X(SHRS32) X(SHRU64) X(SHRS64)                  \
    X(ADDF32) X(SUBF32) X(MULF32) X(FMAF32) X(ADDF64) X(SUBF64) X(MULF64) X(FMAF64)                \
    X(CVT_ZX) X(CVT_SX) X(CVT) X(ALU) X(CARRY)                                                     \
    X(SETP_I) X(SETP_F32) X(SETP_F64) X(SETP_X) X(SET) X(SELP) X(SLCT) X(PLOGIC)                   \
    X(LD) X(ST) X(ATOM) X(CVTA) X(ISSPACEP)                                                        \
    X(BRA) X(CALL) X(RET) X(EXIT) X(TRAP) X(BAR) X(FENCE) X(NANOSLEEP)                             \
    X(SHFL) X(VOTE) X(MATCH) X(REDUX) X(ACTIVEMASK) X(WARPSYNC)

enum xop {
#define X(n) X_##n,
    XOPS(X)
#undef X
        X_COUNT
};

/* xinsn.fl bits. */
#define XF_GNEG  0x01 /* guard is @!%p */
#define XF_CNEG  0x02 /* predicate source c is !%p */
#define XF_ANEG  0x04 /* predicate source a is !%p */
#define XF_BNEG  0x08 /* predicate source b is !%p */
#define XF_IMMB  0x10 /* the b operand is a constant (informational) */
#define XF_STORE 0x20

/* Address modes of memory operands (xinsn.am). */
enum xam { AM_REG, AM_ABS, AM_VAR, AM_FP, AM_KPARAM };
/* Memory spaces at run time (xinsn.sp). */
enum xsp { SP_GENERIC, SP_GLOBAL, SP_SHARED, SP_LOCAL, SP_KPARAM };

/* One lowered instruction: 40 bytes. Register operands are slots of the function's warp register
 * file (one u64[32] per slot; immediates are constant slots filled at frame creation). */
struct xinsn {
    uint16_t op;    /* enum xop */
    uint8_t fl;     /* XF_* */
    uint8_t w;      /* op-specific: width in bytes, comparison, ... */
    uint16_t guard; /* predicate slot + 1; 0 = unguarded */
    uint8_t am, sp; /* memory: address mode and space; others: spare */
    uint32_t d, a, b, c;
    uint32_t aux; /* 4th source, second destination, label target, list index, ... */
    uint32_t src; /* index of the parsed instruction (ptx_function.insns) */
    int64_t imm;  /* displacement of an address, or op-specific */
};

/* xinsn.a of an X_CALL through a register (xinsn.b: the 64-bit slot holding the address; xinsn.c:
 * the prototype's index in the caller's ptx_function.protos). */
#define XCALL_INDIRECT UINT32_MAX

enum xbuiltin { XB_NONE, XB_VPRINTF, XB_ASSERTFAIL };

/* A lowered function. */
struct xfunc {
    const struct ptx_function *fn;
    int builtin;     /* enum xbuiltin for a prototype-only function */
    struct xinsn *code;
    uint32_t ncode;
    uint32_t nslots; /* u64[32] register slots: 16/32/64-bit classes, constants, temporaries */
    uint32_t npreds; /* predicate slots (one lane mask each), incl. a sink */
    uint32_t const_base, nconst;
    uint64_t *consts;
    uint32_t sink;   /* slot written by '_' */
    /* Frame layout in each thread's local memory, relative to the frame pointer. */
    uint32_t fr_callparam, fr_param, fr_ret, frame_bytes;
    uint32_t stack_need; /* bytes of local stack this function and its deepest callees need */
    bool reads_envreg;
    bool recursive;
    int visiting;
};

struct ptx_program {
    const struct ptx_module *mod;
    struct xfunc *funcs; /* one per module function */
    uint32_t *lists;     /* vector element slots and call lists */
    uint32_t nlists, caplists;
    uint64_t *shared_off; /* per module variable: offset in the CTA's shared memory (.shared) */
    uint32_t static_shared; /* dynamic shared memory starts here (16-aligned) */
    uint32_t const_bytes;
};

/* Scalar evaluation of arithmetic (exec_alu.c). */
uint64_t xalu_eval(const struct ptx_insn *pi, uint64_t a, uint64_t b, uint64_t c, uint64_t e,
                   unsigned *carry);
int xalu_supported(const struct ptx_insn *pi);
uint64_t xalu_setp(const struct ptx_insn *pi, uint64_t a, uint64_t b);
uint64_t xalu_cvt(const struct ptx_insn *pi, uint64_t a, unsigned dst_bytes);

/* Device printf: formats fmt with the packed argument buffer args (nargs bytes) into out (cap
 * bytes, always NUL-terminated); returns the full length, which may exceed cap - 1 (then the caller
 * formats again into a larger buffer, as with snprintf). str_at translates a %s pointer to a host
 * string of at most *max bytes, or NULL. */
size_t xprintf_format(char *out, size_t cap, const char *fmt, const uint8_t *args, size_t nargs,
                      const char *(*str_at)(void *ctx, uint64_t addr, size_t *max), void *ctx);

#endif
