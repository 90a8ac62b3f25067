/*
 * The PTX front end: parses PTX text (ISA up to 9.0, as nvcc 13 emits it) into a pre-decoded form
 * that a warp-wide interpreter executes without ever looking at a string again.
 *
 * A module holds functions (kernels and device functions) and module-scope variables. Each defined
 * function is a flat array of fixed-size instruction records: the opcode, type and modifiers are
 * small enums, labels are instruction indices, registers are dense slots per register class, and
 * parameters, call-site parameters and .local variables are byte offsets into per-thread frames.
 * Anything the front end does not understand is rejected with a line, a column and a message; it is
 * never guessed at. docs/internals/ptx.md describes the form and how the executor uses it.
 */
#ifndef GPOOL_PTX_H
#define GPOOL_PTX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Register classes. Registers of one class share storage of one width; f32 and b32 registers are
 * both PTX_RC_32, .b8/.u8/.s8 registers live in PTX_RC_16. Slots are numbered 0..n-1 per class. */
#define PTX_RCLASSES(X)                                                                            \
    X(PRED, "pred")                                                                                \
    X(16, "16-bit")                                                                                \
    X(32, "32-bit")                                                                                \
    X(64, "64-bit")

enum ptx_rclass {
#define X(n, s) PTX_RC_##n,
    PTX_RCLASSES(X)
#undef X
        PTX_RC_COUNT
};

/* Types: X(enum, name, size in bytes). */
#define PTX_TYPES(X)                                                                               \
    X(NONE, "", 0)                                                                                 \
    X(PRED, "pred", 0)                                                                             \
    X(B8, "b8", 1)                                                                                 \
    X(B16, "b16", 2)                                                                               \
    X(B32, "b32", 4)                                                                               \
    X(B64, "b64", 8)                                                                               \
    X(B128, "b128", 16)                                                                            \
    X(U8, "u8", 1)                                                                                 \
    X(U16, "u16", 2)                                                                               \
    X(U32, "u32", 4)                                                                               \
    X(U64, "u64", 8)                                                                               \
    X(S8, "s8", 1)                                                                                 \
    X(S16, "s16", 2)                                                                               \
    X(S32, "s32", 4)                                                                               \
    X(S64, "s64", 8)                                                                               \
    X(F16, "f16", 2)                                                                               \
    X(F16X2, "f16x2", 4)                                                                           \
    X(BF16, "bf16", 2)                                                                             \
    X(BF16X2, "bf16x2", 4)                                                                         \
    X(F32, "f32", 4)                                                                               \
    X(F64, "f64", 8)

enum ptx_type {
#define X(e, s, n) PTX_T_##e,
    PTX_TYPES(X)
#undef X
        PTX_T_COUNT
};

/* State spaces of ld/st/atom/cvta/variables. */
#define PTX_SPACES(X)                                                                              \
    X(GENERIC, "")                                                                                 \
    X(GLOBAL, "global")                                                                            \
    X(SHARED, "shared")                                                                            \
    X(CONST, "const")                                                                              \
    X(LOCAL, "local")                                                                              \
    X(PARAM, "param")

enum ptx_space {
#define X(e, s) PTX_SPACE_##e,
    PTX_SPACES(X)
#undef X
        PTX_SPACE_COUNT
};

/*
 * The supported instruction set: X(enum, mnemonic, modifier classes, type masks, min types,
 * max types, min operands, max operands). Modifier classes are PTX_MC_* bits (which dotted
 * suffixes the instruction may carry); the type mask says which types may follow (PTX_TM_*).
 * Any mnemonic not listed here, or a listed one with a modifier of a class it does not take, is
 * rejected at load time. The executor is written against this table.
 */
#define PTX_MC_RND      (1u << 0) /* .rn .rz .rm .rp */
#define PTX_MC_RNDI     (1u << 1) /* .rni .rzi .rmi .rpi */
#define PTX_MC_FTZ      (1u << 2)
#define PTX_MC_SAT      (1u << 3)
#define PTX_MC_APPROX   (1u << 4) /* .approx .full */
#define PTX_MC_MULMODE  (1u << 5) /* .hi .lo .wide */
#define PTX_MC_CC       (1u << 6)
#define PTX_MC_CMP      (1u << 7) /* setp/set comparison */
#define PTX_MC_BOOL     (1u << 8) /* setp/set/bar.red .and .or .xor .popc */
#define PTX_MC_SPACE    (1u << 9)
#define PTX_MC_VEC      (1u << 10) /* .v2 .v4 */
#define PTX_MC_CACHE    (1u << 11) /* .ca .cg .cs .lu .cv .wb .wt .nc, L1::/L2:: hints */
#define PTX_MC_SEM      (1u << 12) /* .relaxed .acquire .release .acq_rel .sc .volatile */
#define PTX_MC_SCOPE    (1u << 13) /* .cta .gpu .sys .cluster */
#define PTX_MC_SYNC     (1u << 14) /* .sync .aligned */
#define PTX_MC_UNI      (1u << 15)
#define PTX_MC_SHFL     (1u << 16) /* .up .down .bfly .idx */
#define PTX_MC_VOTE     (1u << 17) /* .all .any .uni .ballot */
#define PTX_MC_ATOMOP   (1u << 18) /* .add .min .max .inc .dec .cas .exch .and .or .xor */
#define PTX_MC_TO       (1u << 19)
#define PTX_MC_SHIFTAMT (1u << 20)
#define PTX_MC_SHF      (1u << 21) /* .l .r .wrap .clamp */
#define PTX_MC_PRMT     (1u << 22) /* .f4e .b4e .rc8 .ecl .ecr .rc16 */
#define PTX_MC_MEMBAR   (1u << 23) /* .cta .gl .sys */
#define PTX_MC_BAR      (1u << 24) /* .sync .arrive .red */
#define PTX_MC_RELU     (1u << 25) /* .relu .satfinite */
#define PTX_MC_NAN      (1u << 26) /* .NaN .xorsign .abs */
#define PTX_MC_TESTP    (1u << 27) /* .finite .infinite .number .notanumber .normal .subnormal */
#define PTX_MC_NOFTZ    (1u << 28)

#define PTX_TM_BITS ((1u << PTX_T_B16) | (1u << PTX_T_B32) | (1u << PTX_T_B64))
#define PTX_TM_U    ((1u << PTX_T_U16) | (1u << PTX_T_U32) | (1u << PTX_T_U64))
#define PTX_TM_S    ((1u << PTX_T_S16) | (1u << PTX_T_S32) | (1u << PTX_T_S64))
#define PTX_TM_INT  (PTX_TM_BITS | PTX_TM_U | PTX_TM_S)
#define PTX_TM_F    ((1u << PTX_T_F32) | (1u << PTX_T_F64))
#define PTX_TM_H                                                                                   \
    ((1u << PTX_T_F16) | (1u << PTX_T_F16X2) | (1u << PTX_T_BF16) | (1u << PTX_T_BF16X2))
#define PTX_TM_BYTE ((1u << PTX_T_B8) | (1u << PTX_T_U8) | (1u << PTX_T_S8))
#define PTX_TM_PRED (1u << PTX_T_PRED)
#define PTX_TM_ANY  (~1u)

#define PTX_C_ARITH (PTX_MC_RND | PTX_MC_FTZ | PTX_MC_SAT | PTX_MC_CC)
#define PTX_C_MEM   (PTX_MC_SPACE | PTX_MC_VEC | PTX_MC_CACHE | PTX_MC_SEM | PTX_MC_SCOPE)

#define PTX_OPS(X)                                                                                 \
    X(ABS, "abs", PTX_MC_FTZ, PTX_TM_S | PTX_TM_F | PTX_TM_H, 1, 1, 2, 2)                          \
    X(ADD, "add", PTX_C_ARITH, PTX_TM_INT | PTX_TM_F | PTX_TM_H, 1, 1, 3, 3)                       \
    X(ADDC, "addc", PTX_MC_CC, PTX_TM_INT, 1, 1, 3, 3)                                             \
    X(SUB, "sub", PTX_C_ARITH, PTX_TM_INT | PTX_TM_F | PTX_TM_H, 1, 1, 3, 3)                       \
    X(SUBC, "subc", PTX_MC_CC, PTX_TM_INT, 1, 1, 3, 3)                                             \
    X(MUL, "mul", PTX_C_ARITH | PTX_MC_MULMODE, PTX_TM_INT | PTX_TM_F | PTX_TM_H, 1, 1, 3, 3)      \
    X(MAD, "mad", PTX_C_ARITH | PTX_MC_MULMODE, PTX_TM_INT | PTX_TM_F, 1, 1, 4, 4)                 \
    X(MADC, "madc", PTX_MC_CC | PTX_MC_MULMODE, PTX_TM_INT, 1, 1, 4, 4)                            \
    X(MUL24, "mul24", PTX_MC_MULMODE, PTX_TM_INT, 1, 1, 3, 3)                                      \
    X(MAD24, "mad24", PTX_MC_MULMODE | PTX_MC_SAT, PTX_TM_INT, 1, 1, 4, 4)                         \
    X(SAD, "sad", 0, PTX_TM_INT, 1, 1, 4, 4)                                                       \
    X(FMA, "fma", PTX_C_ARITH | PTX_MC_RELU, PTX_TM_F | PTX_TM_H, 1, 1, 4, 4)                      \
    X(DIV, "div", PTX_MC_RND | PTX_MC_FTZ | PTX_MC_APPROX, PTX_TM_INT | PTX_TM_F, 1, 1, 3, 3)      \
    X(REM, "rem", 0, PTX_TM_INT, 1, 1, 3, 3)                                                       \
    X(NEG, "neg", PTX_MC_FTZ, PTX_TM_S | PTX_TM_F | PTX_TM_H, 1, 1, 2, 2)                          \
    X(MIN, "min", PTX_MC_FTZ | PTX_MC_NAN | PTX_MC_RELU, PTX_TM_INT | PTX_TM_F | PTX_TM_H, 1, 1,   \
      3, 3)                                                                                        \
    X(MAX, "max", PTX_MC_FTZ | PTX_MC_NAN | PTX_MC_RELU, PTX_TM_INT | PTX_TM_F | PTX_TM_H, 1, 1,   \
      3, 3)                                                                                        \
    X(SQRT, "sqrt", PTX_MC_RND | PTX_MC_FTZ | PTX_MC_APPROX, PTX_TM_F, 1, 1, 2, 2)                 \
    X(RSQRT, "rsqrt", PTX_MC_FTZ | PTX_MC_APPROX, PTX_TM_F, 1, 1, 2, 2)                            \
    X(RCP, "rcp", PTX_MC_RND | PTX_MC_FTZ | PTX_MC_APPROX, PTX_TM_F, 1, 1, 2, 2)                   \
    X(SIN, "sin", PTX_MC_FTZ | PTX_MC_APPROX, PTX_TM_F, 1, 1, 2, 2)                                \
    X(COS, "cos", PTX_MC_FTZ | PTX_MC_APPROX, PTX_TM_F, 1, 1, 2, 2)                                \
    X(LG2, "lg2", PTX_MC_FTZ | PTX_MC_APPROX, PTX_TM_F, 1, 1, 2, 2)                                \
    X(EX2, "ex2", PTX_MC_FTZ | PTX_MC_APPROX, PTX_TM_F | PTX_TM_H, 1, 1, 2, 2)                     \
    X(TANH, "tanh", PTX_MC_APPROX, PTX_TM_F | PTX_TM_H, 1, 1, 2, 2)                                \
    X(COPYSIGN, "copysign", 0, PTX_TM_F, 1, 1, 3, 3)                                               \
    X(TESTP, "testp", PTX_MC_TESTP, PTX_TM_F, 1, 1, 2, 2)                                          \
    X(AND, "and", 0, PTX_TM_BITS | PTX_TM_PRED, 1, 1, 3, 3)                                        \
    X(OR, "or", 0, PTX_TM_BITS | PTX_TM_PRED, 1, 1, 3, 3)                                          \
    X(XOR, "xor", 0, PTX_TM_BITS | PTX_TM_PRED, 1, 1, 3, 3)                                        \
    X(NOT, "not", 0, PTX_TM_BITS | PTX_TM_PRED, 1, 1, 2, 2)                                        \
    X(CNOT, "cnot", 0, PTX_TM_BITS, 1, 1, 2, 2)                                                    \
    X(LOP3, "lop3", 0, PTX_TM_BITS, 1, 1, 5, 5)                                                    \
    X(SHL, "shl", 0, PTX_TM_BITS, 1, 1, 3, 3)                                                      \
    X(SHR, "shr", 0, PTX_TM_INT, 1, 1, 3, 3)                                                       \
    X(SHF, "shf", PTX_MC_SHF, PTX_TM_BITS, 1, 1, 4, 4)                                             \
    X(POPC, "popc", 0, PTX_TM_BITS, 1, 1, 2, 2)                                                    \
    X(CLZ, "clz", 0, PTX_TM_BITS, 1, 1, 2, 2)                                                      \
    X(BREV, "brev", 0, PTX_TM_BITS, 1, 1, 2, 2)                                                    \
    X(BFIND, "bfind", PTX_MC_SHIFTAMT, PTX_TM_U | PTX_TM_S, 1, 1, 2, 2)                            \
    X(BFE, "bfe", 0, PTX_TM_U | PTX_TM_S, 1, 1, 4, 4)                                              \
    X(BFI, "bfi", 0, PTX_TM_BITS, 1, 1, 5, 5)                                                      \
    X(PRMT, "prmt", PTX_MC_PRMT, PTX_TM_BITS, 1, 1, 4, 4)                                          \
    X(FNS, "fns", 0, PTX_TM_BITS, 1, 1, 4, 4)                                                      \
    X(DP4A, "dp4a", 0, PTX_TM_U | PTX_TM_S, 2, 2, 4, 4)                                            \
    X(DP2A, "dp2a", PTX_MC_MULMODE, PTX_TM_U | PTX_TM_S, 2, 2, 4, 4)                               \
    X(MOV, "mov", 0, PTX_TM_ANY, 1, 1, 2, 2)                                                       \
    X(CVT, "cvt", PTX_MC_RND | PTX_MC_RNDI | PTX_MC_FTZ | PTX_MC_SAT | PTX_MC_RELU, PTX_TM_ANY, 2, \
      2, 2, 3)                                                                                     \
    X(CVTA, "cvta", PTX_MC_TO | PTX_MC_SPACE, PTX_TM_U, 1, 1, 2, 2)                                \
    X(ISSPACEP, "isspacep", PTX_MC_SPACE, 0, 0, 0, 2, 2)                                           \
    X(SETP, "setp", PTX_MC_CMP | PTX_MC_BOOL | PTX_MC_FTZ, PTX_TM_INT | PTX_TM_F | PTX_TM_H, 1, 1, \
      3, 4)                                                                                        \
    X(SET, "set", PTX_MC_CMP | PTX_MC_BOOL | PTX_MC_FTZ, PTX_TM_ANY, 2, 2, 3, 4)                   \
    X(SELP, "selp", 0, PTX_TM_INT | PTX_TM_F | PTX_TM_H, 1, 1, 4, 4)                               \
    X(SLCT, "slct", PTX_MC_FTZ, PTX_TM_INT | PTX_TM_F, 2, 2, 4, 4)                                 \
    X(LD, "ld", PTX_C_MEM, PTX_TM_ANY, 1, 1, 2, 2)                                                 \
    X(LDU, "ldu", PTX_MC_SPACE | PTX_MC_VEC, PTX_TM_ANY, 1, 1, 2, 2)                               \
    X(ST, "st", PTX_C_MEM, PTX_TM_ANY, 1, 1, 2, 2)                                                 \
    X(PREFETCH, "prefetch", PTX_MC_SPACE | PTX_MC_CACHE, 0, 0, 0, 1, 1)                            \
    X(ATOM, "atom", PTX_MC_SPACE | PTX_MC_SEM | PTX_MC_SCOPE | PTX_MC_ATOMOP | PTX_MC_NOFTZ,       \
      PTX_TM_INT | PTX_TM_F | PTX_TM_H, 1, 1, 3, 4)                                                \
    X(RED, "red", PTX_MC_SPACE | PTX_MC_SEM | PTX_MC_SCOPE | PTX_MC_ATOMOP | PTX_MC_NOFTZ,         \
      PTX_TM_INT | PTX_TM_F | PTX_TM_H, 1, 1, 2, 2)                                                \
    X(BRA, "bra", PTX_MC_UNI, 0, 0, 0, 1, 1)                                                       \
    X(CALL, "call", PTX_MC_UNI, 0, 0, 0, 1, 4)                                                     \
    X(RET, "ret", PTX_MC_UNI, 0, 0, 0, 0, 0)                                                       \
    X(EXIT, "exit", 0, 0, 0, 0, 0, 0)                                                              \
    X(TRAP, "trap", 0, 0, 0, 0, 0, 0)                                                              \
    X(BRKPT, "brkpt", 0, 0, 0, 0, 0, 0)                                                            \
    X(BAR, "bar", PTX_MC_BAR | PTX_MC_SYNC | PTX_MC_BOOL, PTX_TM_U | PTX_TM_PRED, 0, 1, 1, 4)      \
    X(BARRIER, "barrier", PTX_MC_BAR | PTX_MC_SYNC | PTX_MC_BOOL, PTX_TM_U | PTX_TM_PRED, 0, 1, 1, \
      4)                                                                                           \
    X(BAR_WARP, "bar.warp", PTX_MC_BAR, 0, 0, 0, 1, 1)                                             \
    X(MEMBAR, "membar", PTX_MC_MEMBAR, 0, 0, 0, 0, 0)                                              \
    X(FENCE, "fence", PTX_MC_SEM | PTX_MC_SCOPE, 0, 0, 0, 0, 0)                                    \
    X(SHFL, "shfl", PTX_MC_SYNC | PTX_MC_SHFL, PTX_TM_BITS, 1, 1, 4, 5)                            \
    X(VOTE, "vote", PTX_MC_SYNC | PTX_MC_VOTE, PTX_TM_PRED | PTX_TM_BITS, 1, 1, 3, 3)              \
    X(MATCH, "match", PTX_MC_SYNC | PTX_MC_VOTE, PTX_TM_BITS, 1, 1, 3, 4)                          \
    X(REDUX, "redux", PTX_MC_SYNC | PTX_MC_ATOMOP, PTX_TM_INT, 1, 1, 3, 3)                         \
    X(ACTIVEMASK, "activemask", 0, PTX_TM_BITS, 1, 1, 1, 1)                                        \
    X(NANOSLEEP, "nanosleep", 0, PTX_TM_U, 1, 1, 1, 1)

enum ptx_op {
#define X(e, s, mc, tm, tmin, tmax, omin, omax) PTX_OP_##e,
    PTX_OPS(X)
#undef X
        PTX_OP_COUNT
};

/* The executor's dispatch key: one distinct value per (opcode, first type) pair, computed at load
 * time, so a handler table or switch needs no second look at the record's type field. */
#define PTX_KEY(op, type) ((uint16_t)((op)*PTX_T_COUNT + (type)))

/* Special registers: X(enum, name). Vector ones (tid, ntid, ctaid, nctaid, clusterid, ...) are
 * listed per component. */
#define PTX_SREGS(X)                                                                               \
    X(TID_X, "%tid.x")                                                                             \
    X(TID_Y, "%tid.y")                                                                             \
    X(TID_Z, "%tid.z")                                                                             \
    X(NTID_X, "%ntid.x")                                                                           \
    X(NTID_Y, "%ntid.y")                                                                           \
    X(NTID_Z, "%ntid.z")                                                                           \
    X(CTAID_X, "%ctaid.x")                                                                         \
    X(CTAID_Y, "%ctaid.y")                                                                         \
    X(CTAID_Z, "%ctaid.z")                                                                         \
    X(NCTAID_X, "%nctaid.x")                                                                       \
    X(NCTAID_Y, "%nctaid.y")                                                                       \
    X(NCTAID_Z, "%nctaid.z")                                                                       \
    X(LANEID, "%laneid")                                                                           \
    X(WARPID, "%warpid")                                                                           \
    X(NWARPID, "%nwarpid")                                                                         \
    X(SMID, "%smid")                                                                               \
    X(NSMID, "%nsmid")                                                                             \
    X(GRIDID, "%gridid")                                                                           \
    X(LANEMASK_EQ, "%lanemask_eq")                                                                 \
    X(LANEMASK_LE, "%lanemask_le")                                                                 \
    X(LANEMASK_LT, "%lanemask_lt")                                                                 \
    X(LANEMASK_GE, "%lanemask_ge")                                                                 \
    X(LANEMASK_GT, "%lanemask_gt")                                                                 \
    X(CLOCK, "%clock")                                                                             \
    X(CLOCK_HI, "%clock_hi")                                                                       \
    X(CLOCK64, "%clock64")                                                                         \
    X(GLOBALTIMER, "%globaltimer")                                                                 \
    X(GLOBALTIMER_LO, "%globaltimer_lo")                                                           \
    X(GLOBALTIMER_HI, "%globaltimer_hi")                                                           \
    X(DYNAMIC_SMEM_SIZE, "%dynamic_smem_size")                                                     \
    X(TOTAL_SMEM_SIZE, "%total_smem_size")

/* %envreg0..%envreg31 (the driver's environment words; cooperative launches keep the grid
 * workspace there) follow the named ones. */
enum ptx_sreg {
#define X(e, s) PTX_SREG_##e,
    PTX_SREGS(X)
#undef X
        PTX_SREG_ENVREG0,
    PTX_SREG_COUNT = PTX_SREG_ENVREG0 + 32
};

/* Modifier values kept in the instruction record. */
enum ptx_rnd {
    PTX_RND_NONE,
    PTX_RND_RN,
    PTX_RND_RZ,
    PTX_RND_RM,
    PTX_RND_RP,
    PTX_RND_RNI,
    PTX_RND_RZI,
    PTX_RND_RMI,
    PTX_RND_RPI
};
enum ptx_cmp {
    PTX_CMP_NONE,
    PTX_CMP_EQ,
    PTX_CMP_NE,
    PTX_CMP_LT,
    PTX_CMP_LE,
    PTX_CMP_GT,
    PTX_CMP_GE,
    PTX_CMP_LO,
    PTX_CMP_LS,
    PTX_CMP_HI,
    PTX_CMP_HS,
    PTX_CMP_EQU,
    PTX_CMP_NEU,
    PTX_CMP_LTU,
    PTX_CMP_LEU,
    PTX_CMP_GTU,
    PTX_CMP_GEU,
    PTX_CMP_NUM,
    PTX_CMP_NAN
};
enum ptx_boolop { PTX_BOOL_NONE, PTX_BOOL_AND, PTX_BOOL_OR, PTX_BOOL_XOR, PTX_BOOL_POPC };
/* ptx_insn.mode: the one instruction-specific mode word (shfl, vote/match, atom/red/redux, prmt,
 * membar, bar, testp). */
enum ptx_mode {
    PTX_MODE_NONE,
    PTX_SHFL_UP,
    PTX_SHFL_DOWN,
    PTX_SHFL_BFLY,
    PTX_SHFL_IDX,
    PTX_VOTE_ALL,
    PTX_VOTE_ANY,
    PTX_VOTE_UNI,
    PTX_VOTE_BALLOT,
    PTX_ATOM_ADD,
    PTX_ATOM_MIN,
    PTX_ATOM_MAX,
    PTX_ATOM_INC,
    PTX_ATOM_DEC,
    PTX_ATOM_CAS,
    PTX_ATOM_EXCH,
    PTX_ATOM_AND,
    PTX_ATOM_OR,
    PTX_ATOM_XOR,
    PTX_PRMT_F4E,
    PTX_PRMT_B4E,
    PTX_PRMT_RC8,
    PTX_PRMT_ECL,
    PTX_PRMT_ECR,
    PTX_PRMT_RC16,
    PTX_MEMBAR_CTA,
    PTX_MEMBAR_GL,
    PTX_MEMBAR_SYS,
    PTX_BAR_SYNC,
    PTX_BAR_ARRIVE,
    PTX_BAR_RED,
    PTX_TESTP_FINITE,
    PTX_TESTP_INFINITE,
    PTX_TESTP_NUMBER,
    PTX_TESTP_NOTANUMBER,
    PTX_TESTP_NORMAL,
    PTX_TESTP_SUBNORMAL
};
enum ptx_scope { PTX_SCOPE_NONE, PTX_SCOPE_CTA, PTX_SCOPE_CLUSTER, PTX_SCOPE_GPU, PTX_SCOPE_SYS };
enum ptx_sem {
    PTX_SEM_NONE,
    PTX_SEM_RELAXED,
    PTX_SEM_ACQUIRE,
    PTX_SEM_RELEASE,
    PTX_SEM_ACQ_REL,
    PTX_SEM_SC,
    PTX_SEM_VOLATILE
};

/* ptx_insn.flags bits. */
#define PTX_F_FTZ       (1u << 0)
#define PTX_F_SAT       (1u << 1)
#define PTX_F_APPROX    (1u << 2)
#define PTX_F_FULL      (1u << 3)
#define PTX_F_HI        (1u << 4)
#define PTX_F_LO        (1u << 5)
#define PTX_F_WIDE      (1u << 6)
#define PTX_F_CC        (1u << 7)
#define PTX_F_NC        (1u << 8)
#define PTX_F_UNI       (1u << 9)
#define PTX_F_SYNC      (1u << 10)
#define PTX_F_ALIGNED   (1u << 11)
#define PTX_F_TO        (1u << 12)
#define PTX_F_SHIFTAMT  (1u << 13)
#define PTX_F_SHF_L     (1u << 14)
#define PTX_F_SHF_R     (1u << 15)
#define PTX_F_WRAP      (1u << 16)
#define PTX_F_CLAMP     (1u << 17)
#define PTX_F_RELU      (1u << 18)
#define PTX_F_SATFINITE (1u << 19)
#define PTX_F_NAN       (1u << 20)
#define PTX_F_XORSIGN   (1u << 21)
#define PTX_F_ABS       (1u << 22)
#define PTX_F_GUARD_NEG (1u << 23) /* the guard is @!%p */
#define PTX_F_PAIR_DEST (1u << 24) /* ops[0] and ops[1] are the d|p destination pair */
#define PTX_F_NOFTZ     (1u << 25)
#define PTX_F_CACHE     (1u << 26) /* a cache operator or eviction hint was given (no effect) */

enum ptx_operand_kind {
    PTX_OPND_NONE,
    PTX_OPND_REG,     /* index: slot in class rclass; flags PTX_OPND_NEG for !%p */
    PTX_OPND_IMM,     /* imm: the bits; flags say integer, f32 or f64 literal */
    PTX_OPND_SREG,    /* index: enum ptx_sreg */
    PTX_OPND_ADDR,    /* [base+imm]: base is a register (rclass, index), a symbol (sym, index), or
                         nothing (absolute imm) */
    PTX_OPND_SYMADDR, /* the address of a symbol as a value: sym, index, imm (offset) */
    PTX_OPND_LABEL,   /* index: target instruction */
    PTX_OPND_FUNC,    /* index: function in the module */
    PTX_OPND_VEC,     /* {a, b, ...}: index: first element in ptx_function.xops, imm: count */
    PTX_OPND_LIST,    /* (a, b, ...) of call: same layout as VEC */
    PTX_OPND_SINK,    /* _ */
    PTX_OPND_PROTO,   /* index: .callprototype in ptx_function.protos (indirect call) */
};

#define PTX_OPND_NEG (1u << 0)
#define PTX_IMM_F32  (1u << 1) /* immediate written as 0fXXXXXXXX, or converted for an f32 op */
#define PTX_IMM_F64  (1u << 2) /* immediate written as 0dXXXX... or a decimal float */

/* Where an address operand's symbol lives. Parameters, call-site parameters and locals are
 * resolved to byte offsets at load time: index is then the offset and imm the displacement. */
enum ptx_sym_kind {
    PTX_SYM_NONE,      /* register base or absolute address */
    PTX_SYM_VAR,       /* index: module variable (global/shared/const/local-at-module-scope) */
    PTX_SYM_PARAM,     /* index: byte offset in the function's own parameter block */
    PTX_SYM_RETPARAM,  /* index: byte offset in the function's return parameter block */
    PTX_SYM_CALLPARAM, /* index: byte offset in the call-site parameter scratch area */
    PTX_SYM_LOCAL,     /* index: byte offset in the function's .local frame */
};

struct ptx_operand {
    uint8_t kind;   /* enum ptx_operand_kind */
    uint8_t rclass; /* REG, or ADDR with a register base: the register's class */
    uint8_t sym;    /* ADDR/SYMADDR: enum ptx_sym_kind */
    uint8_t flags;  /* PTX_OPND_NEG, PTX_IMM_F32, PTX_IMM_F64 */
    uint32_t index;
    int64_t imm;
};

#define PTX_MAX_OPERANDS 6

/* One decoded instruction. Fixed size; a function is a flat array of these. */
struct ptx_insn {
    uint16_t op;    /* enum ptx_op */
    uint16_t key;   /* PTX_KEY(op, type) */
    uint8_t type;   /* enum ptx_type: the instruction type (cvt/set/slct/dp4a: destination) */
    uint8_t type2;  /* second type (cvt/set/slct/dp4a: source), else PTX_T_NONE */
    uint8_t space;  /* enum ptx_space */
    uint8_t rnd;    /* enum ptx_rnd */
    uint8_t cmp;    /* enum ptx_cmp */
    uint8_t boolop; /* enum ptx_boolop */
    uint8_t mode;   /* enum ptx_mode */
    uint8_t vec;    /* 1, 2 or 4 */
    uint8_t scope;  /* enum ptx_scope */
    uint8_t sem;    /* enum ptx_sem */
    uint8_t nops;
    uint8_t pad;
    uint32_t flags; /* PTX_F_* */
    int32_t guard;  /* predicate slot of @%p, or -1 */
    uint32_t line;  /* source line, for diagnostics */
    struct ptx_operand ops[PTX_MAX_OPERANDS];
};

/* A parameter of a kernel or device function, laid out as the launch path copies it. */
struct ptx_param {
    const char *name;
    uint32_t offset;
    uint32_t size;
    uint32_t align;
    uint8_t type; /* element type */
};

/* A label, kept for diagnostics and tests; instructions refer to targets by index. */
struct ptx_label {
    const char *name;
    uint32_t insn;
};

/* A .callprototype label in a function body: the signature an indirect call promises
 * (`call (r), %rd, (a), proto;`). Parameter names are placeholders (`_`). */
struct ptx_proto {
    const char *name;
    uint32_t nparams, nrets;
    uint32_t param_size, ret_size;
};

/* Function addresses (`mov.u64 %rd, func;`, function names in initialisers) are tagged values in a
 * window no data pointer can hold (above user space, beside the executor's other windows):
 * PTX_FUNC_ADDR(i) for the module's function i. They do not depend on where a module is loaded,
 * so the parser writes them straight into initialiser bytes. */
#define PTX_FUNC_WINDOW  0x0001400000000000ull
#define PTX_FUNC_ADDR(i) (PTX_FUNC_WINDOW + ((uint64_t)(i) << 4))

struct ptx_function {
    const char *name;
    bool is_entry;
    bool is_visible;
    bool is_extern;
    bool is_weak;
    bool defined; /* has a body */
    uint32_t line;
    struct ptx_param *params;
    uint32_t nparams;
    uint32_t param_size; /* bytes of the parameter block, aligned */
    struct ptx_param *rets;
    uint32_t nrets;
    uint32_t ret_size;
    uint32_t nregs[PTX_RC_COUNT];
    struct ptx_insn *insns;
    uint32_t ninsns;
    struct ptx_operand *xops; /* elements of vector and call-list operands */
    uint32_t nxops;
    struct ptx_label *labels;
    uint32_t nlabels;
    uint32_t local_size; /* .local frame bytes */
    uint32_t local_align;
    uint32_t callparam_size;         /* call-site .param scratch bytes */
    uint32_t maxntid[3], reqntid[3]; /* 0 when not given */
    uint32_t minnctapersm, maxnreg;
    struct ptx_proto *protos; /* .callprototype declarations of the body */
    uint32_t nprotos;
};

/* An initialiser element naming a variable (`x`, `x+8`, `generic(x)`): the 8 bytes at offset hold
 * the target variable's address plus addend once the loader has placed it (the init bytes there
 * are zero). See ptx_var_relocate in exec.h. */
struct ptx_reloc {
    uint64_t offset;
    uint32_t var; /* module variable index (.global or .const) */
    int64_t addend;
};

struct ptx_var {
    const char *name;
    uint8_t space; /* enum ptx_space */
    uint8_t type;  /* element type */
    bool is_visible, is_extern, is_weak, is_managed;
    bool unsized; /* .extern .shared x[]: the base of dynamic shared memory */
    int32_t func; /* declaring function, or -1 at module scope */
    uint32_t align;
    uint64_t size;
    uint8_t *init; /* initial bytes (size of them) or NULL for zero */
    uint32_t line;
    struct ptx_reloc *relocs; /* addresses of variables to patch into the image (in the arena) */
    uint32_t nrelocs;
};

struct ptx_module {
    unsigned version_major, version_minor;
    char target[32];       /* "sm_80" */
    unsigned address_size; /* 64 */
    struct ptx_function *funcs;
    uint32_t nfuncs;
    struct ptx_var *vars;
    uint32_t nvars;
    struct ptx_arena *arena; /* names and initialisers */
};

/* A parse error: where and why. line and col are 1-based; msg names the token and the reason. */
struct ptx_error {
    unsigned line;
    unsigned col;
    char msg[256];
};

/* Inputs larger than this are refused with -E2BIG before any work. */
#define PTX_MAX_SOURCE (256u << 20)

/*
 * Parses PTX text of len bytes (need not be NUL-terminated; a NUL ends the text, as in NUL-padded
 * fatbin payloads). On success returns 0 and *out is a new module the caller frees with
 * ptx_module_free. Returns -EINVAL with *err filled (when err is not NULL) for text it rejects,
 * -E2BIG for input over PTX_MAX_SOURCE, -ENOMEM when memory runs out.
 */
int ptx_parse(const char *src, size_t len, struct ptx_module **out, struct ptx_error *err);

/* Frees a module from ptx_parse; accepts NULL. */
void ptx_module_free(struct ptx_module *mod);

/* Returns the function called name (borrowed from mod), or NULL. */
const struct ptx_function *ptx_module_function(const struct ptx_module *mod, const char *name);

/* Returns the module variable called name (borrowed from mod), or NULL. */
const struct ptx_var *ptx_module_var(const struct ptx_module *mod, const char *name);

/* Returns the instruction index of a label in fn, or -1. */
int64_t ptx_function_label(const struct ptx_function *fn, const char *name);

/* Returns the mnemonic of an opcode ("add"), or "?" for a value out of range. */
const char *ptx_op_name(unsigned op);

/* Returns the name of a type without its dot ("f32"), or "?". */
const char *ptx_type_name(unsigned type);

/* Returns the size in bytes of a type (0 for none and pred). */
unsigned ptx_type_size(unsigned type);

/* Returns the name of a special register ("%tid.x"), or "?". */
const char *ptx_sreg_name(unsigned sreg);

#endif
