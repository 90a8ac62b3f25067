/*
 * The PTX front end's tables: opcodes, types, special registers and dotted modifiers, and the
 * name lookups over them.
 */
#include "table.h"

#include <string.h>

const struct ptx_op_info ptx_op_table[PTX_OP_COUNT] = {
#define X(e, s, mc, tm, tmin, tmax, omin, omax) {s, mc, tm, tmin, tmax, omin, omax},
    PTX_OPS(X)
#undef X
};

static const struct {
    const char *name;
    unsigned size;
} type_table[PTX_T_COUNT] = {
#define X(e, s, n) {s, n},
    PTX_TYPES(X)
#undef X
};

static const char *const sreg_table[PTX_SREG_ENVREG0] = {
#define X(e, s) s,
    PTX_SREGS(X)
#undef X
};

/*
 * Dotted modifiers. A word may belong to several classes (".lo" compares in setp and selects the
 * low half in mul); the first entry whose class the instruction takes wins.
 */
const struct ptx_mod_info ptx_mod_table[] = {
    {"rn", PTX_MC_RND, PTX_FIELD_RND, PTX_RND_RN},
    {"rz", PTX_MC_RND, PTX_FIELD_RND, PTX_RND_RZ},
    {"rm", PTX_MC_RND, PTX_FIELD_RND, PTX_RND_RM},
    {"rp", PTX_MC_RND, PTX_FIELD_RND, PTX_RND_RP},
    {"rni", PTX_MC_RNDI, PTX_FIELD_RND, PTX_RND_RNI},
    {"rzi", PTX_MC_RNDI, PTX_FIELD_RND, PTX_RND_RZI},
    {"rmi", PTX_MC_RNDI, PTX_FIELD_RND, PTX_RND_RMI},
    {"rpi", PTX_MC_RNDI, PTX_FIELD_RND, PTX_RND_RPI},
    {"ftz", PTX_MC_FTZ, PTX_FIELD_FLAG, PTX_F_FTZ},
    {"sat", PTX_MC_SAT, PTX_FIELD_FLAG, PTX_F_SAT},
    {"approx", PTX_MC_APPROX, PTX_FIELD_FLAG, PTX_F_APPROX},
    {"full", PTX_MC_APPROX, PTX_FIELD_FLAG, PTX_F_FULL},
    {"hi", PTX_MC_MULMODE, PTX_FIELD_FLAG, PTX_F_HI},
    {"lo", PTX_MC_MULMODE, PTX_FIELD_FLAG, PTX_F_LO},
    {"wide", PTX_MC_MULMODE, PTX_FIELD_FLAG, PTX_F_WIDE},
    {"cc", PTX_MC_CC, PTX_FIELD_FLAG, PTX_F_CC},
    {"eq", PTX_MC_CMP, PTX_FIELD_CMP, PTX_CMP_EQ},
    {"ne", PTX_MC_CMP, PTX_FIELD_CMP, PTX_CMP_NE},
    {"lt", PTX_MC_CMP, PTX_FIELD_CMP, PTX_CMP_LT},
    {"le", PTX_MC_CMP, PTX_FIELD_CMP, PTX_CMP_LE},
    {"gt", PTX_MC_CMP, PTX_FIELD_CMP, PTX_CMP_GT},
    {"ge", PTX_MC_CMP, PTX_FIELD_CMP, PTX_CMP_GE},
    {"lo", PTX_MC_CMP, PTX_FIELD_CMP, PTX_CMP_LO},
    {"ls", PTX_MC_CMP, PTX_FIELD_CMP, PTX_CMP_LS},
    {"hi", PTX_MC_CMP, PTX_FIELD_CMP, PTX_CMP_HI},
    {"hs", PTX_MC_CMP, PTX_FIELD_CMP, PTX_CMP_HS},
    {"equ", PTX_MC_CMP, PTX_FIELD_CMP, PTX_CMP_EQU},
    {"neu", PTX_MC_CMP, PTX_FIELD_CMP, PTX_CMP_NEU},
    {"ltu", PTX_MC_CMP, PTX_FIELD_CMP, PTX_CMP_LTU},
    {"leu", PTX_MC_CMP, PTX_FIELD_CMP, PTX_CMP_LEU},
    {"gtu", PTX_MC_CMP, PTX_FIELD_CMP, PTX_CMP_GTU},
    {"geu", PTX_MC_CMP, PTX_FIELD_CMP, PTX_CMP_GEU},
    {"num", PTX_MC_CMP, PTX_FIELD_CMP, PTX_CMP_NUM},
    {"nan", PTX_MC_CMP, PTX_FIELD_CMP, PTX_CMP_NAN},
    {"and", PTX_MC_BOOL, PTX_FIELD_BOOL, PTX_BOOL_AND},
    {"or", PTX_MC_BOOL, PTX_FIELD_BOOL, PTX_BOOL_OR},
    {"xor", PTX_MC_BOOL, PTX_FIELD_BOOL, PTX_BOOL_XOR},
    {"popc", PTX_MC_BOOL, PTX_FIELD_BOOL, PTX_BOOL_POPC},
    {"global", PTX_MC_SPACE, PTX_FIELD_SPACE, PTX_SPACE_GLOBAL},
    {"shared", PTX_MC_SPACE, PTX_FIELD_SPACE, PTX_SPACE_SHARED},
    {"shared::cta", PTX_MC_SPACE, PTX_FIELD_SPACE, PTX_SPACE_SHARED},
    {"const", PTX_MC_SPACE, PTX_FIELD_SPACE, PTX_SPACE_CONST},
    {"local", PTX_MC_SPACE, PTX_FIELD_SPACE, PTX_SPACE_LOCAL},
    {"param", PTX_MC_SPACE, PTX_FIELD_SPACE, PTX_SPACE_PARAM},
    {"v2", PTX_MC_VEC, PTX_FIELD_VEC, 2},
    {"v4", PTX_MC_VEC, PTX_FIELD_VEC, 4},
    {"ca", PTX_MC_CACHE, PTX_FIELD_FLAG, PTX_F_CACHE},
    {"cg", PTX_MC_CACHE, PTX_FIELD_FLAG, PTX_F_CACHE},
    {"cs", PTX_MC_CACHE, PTX_FIELD_FLAG, PTX_F_CACHE},
    {"lu", PTX_MC_CACHE, PTX_FIELD_FLAG, PTX_F_CACHE},
    {"cv", PTX_MC_CACHE, PTX_FIELD_FLAG, PTX_F_CACHE},
    {"wb", PTX_MC_CACHE, PTX_FIELD_FLAG, PTX_F_CACHE},
    {"wt", PTX_MC_CACHE, PTX_FIELD_FLAG, PTX_F_CACHE},
    {"nc", PTX_MC_CACHE, PTX_FIELD_FLAG, PTX_F_NC},
    {"L1::evict_normal", PTX_MC_CACHE, PTX_FIELD_FLAG, PTX_F_CACHE},
    {"L1::evict_unchanged", PTX_MC_CACHE, PTX_FIELD_FLAG, PTX_F_CACHE},
    {"L1::evict_first", PTX_MC_CACHE, PTX_FIELD_FLAG, PTX_F_CACHE},
    {"L1::evict_last", PTX_MC_CACHE, PTX_FIELD_FLAG, PTX_F_CACHE},
    {"L1::no_allocate", PTX_MC_CACHE, PTX_FIELD_FLAG, PTX_F_CACHE},
    {"L2::evict_normal", PTX_MC_CACHE, PTX_FIELD_FLAG, PTX_F_CACHE},
    {"L2::evict_first", PTX_MC_CACHE, PTX_FIELD_FLAG, PTX_F_CACHE},
    {"L2::evict_last", PTX_MC_CACHE, PTX_FIELD_FLAG, PTX_F_CACHE},
    {"L2::64B", PTX_MC_CACHE, PTX_FIELD_FLAG, PTX_F_CACHE},
    {"L2::128B", PTX_MC_CACHE, PTX_FIELD_FLAG, PTX_F_CACHE},
    {"L2::256B", PTX_MC_CACHE, PTX_FIELD_FLAG, PTX_F_CACHE},
    {"L1", PTX_MC_CACHE, PTX_FIELD_FLAG, PTX_F_CACHE},
    {"L2", PTX_MC_CACHE, PTX_FIELD_FLAG, PTX_F_CACHE},
    {"relaxed", PTX_MC_SEM, PTX_FIELD_SEM, PTX_SEM_RELAXED},
    {"acquire", PTX_MC_SEM, PTX_FIELD_SEM, PTX_SEM_ACQUIRE},
    {"release", PTX_MC_SEM, PTX_FIELD_SEM, PTX_SEM_RELEASE},
    {"acq_rel", PTX_MC_SEM, PTX_FIELD_SEM, PTX_SEM_ACQ_REL},
    {"sc", PTX_MC_SEM, PTX_FIELD_SEM, PTX_SEM_SC},
    {"volatile", PTX_MC_SEM, PTX_FIELD_SEM, PTX_SEM_VOLATILE},
    {"cta", PTX_MC_SCOPE, PTX_FIELD_SCOPE, PTX_SCOPE_CTA},
    {"cluster", PTX_MC_SCOPE, PTX_FIELD_SCOPE, PTX_SCOPE_CLUSTER},
    {"gpu", PTX_MC_SCOPE, PTX_FIELD_SCOPE, PTX_SCOPE_GPU},
    {"sys", PTX_MC_SCOPE, PTX_FIELD_SCOPE, PTX_SCOPE_SYS},
    {"sync", PTX_MC_BAR, PTX_FIELD_MODE, PTX_BAR_SYNC},
    {"arrive", PTX_MC_BAR, PTX_FIELD_MODE, PTX_BAR_ARRIVE},
    {"red", PTX_MC_BAR, PTX_FIELD_MODE, PTX_BAR_RED},
    {"sync", PTX_MC_SYNC, PTX_FIELD_FLAG, PTX_F_SYNC},
    {"aligned", PTX_MC_SYNC, PTX_FIELD_FLAG, PTX_F_ALIGNED},
    {"uni", PTX_MC_UNI, PTX_FIELD_FLAG, PTX_F_UNI},
    {"up", PTX_MC_SHFL, PTX_FIELD_MODE, PTX_SHFL_UP},
    {"down", PTX_MC_SHFL, PTX_FIELD_MODE, PTX_SHFL_DOWN},
    {"bfly", PTX_MC_SHFL, PTX_FIELD_MODE, PTX_SHFL_BFLY},
    {"idx", PTX_MC_SHFL, PTX_FIELD_MODE, PTX_SHFL_IDX},
    {"all", PTX_MC_VOTE, PTX_FIELD_MODE, PTX_VOTE_ALL},
    {"any", PTX_MC_VOTE, PTX_FIELD_MODE, PTX_VOTE_ANY},
    {"uni", PTX_MC_VOTE, PTX_FIELD_MODE, PTX_VOTE_UNI},
    {"ballot", PTX_MC_VOTE, PTX_FIELD_MODE, PTX_VOTE_BALLOT},
    {"add", PTX_MC_ATOMOP, PTX_FIELD_MODE, PTX_ATOM_ADD},
    {"min", PTX_MC_ATOMOP, PTX_FIELD_MODE, PTX_ATOM_MIN},
    {"max", PTX_MC_ATOMOP, PTX_FIELD_MODE, PTX_ATOM_MAX},
    {"inc", PTX_MC_ATOMOP, PTX_FIELD_MODE, PTX_ATOM_INC},
    {"dec", PTX_MC_ATOMOP, PTX_FIELD_MODE, PTX_ATOM_DEC},
    {"cas", PTX_MC_ATOMOP, PTX_FIELD_MODE, PTX_ATOM_CAS},
    {"exch", PTX_MC_ATOMOP, PTX_FIELD_MODE, PTX_ATOM_EXCH},
    {"and", PTX_MC_ATOMOP, PTX_FIELD_MODE, PTX_ATOM_AND},
    {"or", PTX_MC_ATOMOP, PTX_FIELD_MODE, PTX_ATOM_OR},
    {"xor", PTX_MC_ATOMOP, PTX_FIELD_MODE, PTX_ATOM_XOR},
    {"to", PTX_MC_TO, PTX_FIELD_FLAG, PTX_F_TO},
    {"shiftamt", PTX_MC_SHIFTAMT, PTX_FIELD_FLAG, PTX_F_SHIFTAMT},
    {"l", PTX_MC_SHF, PTX_FIELD_FLAG, PTX_F_SHF_L},
    {"r", PTX_MC_SHF, PTX_FIELD_FLAG, PTX_F_SHF_R},
    {"wrap", PTX_MC_SHF, PTX_FIELD_FLAG, PTX_F_WRAP},
    {"clamp", PTX_MC_SHF, PTX_FIELD_FLAG, PTX_F_CLAMP},
    {"f4e", PTX_MC_PRMT, PTX_FIELD_MODE, PTX_PRMT_F4E},
    {"b4e", PTX_MC_PRMT, PTX_FIELD_MODE, PTX_PRMT_B4E},
    {"rc8", PTX_MC_PRMT, PTX_FIELD_MODE, PTX_PRMT_RC8},
    {"ecl", PTX_MC_PRMT, PTX_FIELD_MODE, PTX_PRMT_ECL},
    {"ecr", PTX_MC_PRMT, PTX_FIELD_MODE, PTX_PRMT_ECR},
    {"rc16", PTX_MC_PRMT, PTX_FIELD_MODE, PTX_PRMT_RC16},
    {"cta", PTX_MC_MEMBAR, PTX_FIELD_MODE, PTX_MEMBAR_CTA},
    {"gl", PTX_MC_MEMBAR, PTX_FIELD_MODE, PTX_MEMBAR_GL},
    {"sys", PTX_MC_MEMBAR, PTX_FIELD_MODE, PTX_MEMBAR_SYS},
    {"relu", PTX_MC_RELU, PTX_FIELD_FLAG, PTX_F_RELU},
    {"satfinite", PTX_MC_RELU, PTX_FIELD_FLAG, PTX_F_SATFINITE},
    {"NaN", PTX_MC_NAN, PTX_FIELD_FLAG, PTX_F_NAN},
    {"xorsign", PTX_MC_NAN, PTX_FIELD_FLAG, PTX_F_XORSIGN},
    {"abs", PTX_MC_NAN, PTX_FIELD_FLAG, PTX_F_ABS},
    {"finite", PTX_MC_TESTP, PTX_FIELD_MODE, PTX_TESTP_FINITE},
    {"infinite", PTX_MC_TESTP, PTX_FIELD_MODE, PTX_TESTP_INFINITE},
    {"number", PTX_MC_TESTP, PTX_FIELD_MODE, PTX_TESTP_NUMBER},
    {"notanumber", PTX_MC_TESTP, PTX_FIELD_MODE, PTX_TESTP_NOTANUMBER},
    {"normal", PTX_MC_TESTP, PTX_FIELD_MODE, PTX_TESTP_NORMAL},
    {"subnormal", PTX_MC_TESTP, PTX_FIELD_MODE, PTX_TESTP_SUBNORMAL},
    {"noftz", PTX_MC_NOFTZ, PTX_FIELD_FLAG, PTX_F_NOFTZ},
    {NULL, 0, 0, 0},
};

static bool name_is(const char *name, const char *s, size_t n)
{
    return strlen(name) == n && memcmp(name, s, n) == 0;
}

/* Linear search: the table is small and lookups happen once per instruction at load time. */
int ptx_op_lookup(const char *s, size_t n)
{
    for (int i = 0; i < PTX_OP_COUNT; i++)
        if (name_is(ptx_op_table[i].name, s, n))
            return i;
    return -1;
}

/* Finds a type by its name without the dot. */
int ptx_type_lookup(const char *s, size_t n)
{
    for (int i = 1; i < PTX_T_COUNT; i++)
        if (name_is(type_table[i].name, s, n))
            return i;
    return -1;
}

/* Finds a special register by its full name. */
int ptx_sreg_lookup(const char *s, size_t n)
{
    for (int i = 0; i < PTX_SREG_ENVREG0; i++)
        if (name_is(sreg_table[i], s, n))
            return i;
    /* %envreg0 .. %envreg31, no leading zeros. */
    if (n > 7 && n <= 9 && !memcmp(s, "%envreg", 7) && !(s[7] == '0' && n == 9)) {
        int v = 0;
        for (size_t i = 7; i < n; i++) {
            if (s[i] < '0' || s[i] > '9')
                return -1;
            v = v * 10 + (s[i] - '0');
        }
        if (v < 32)
            return PTX_SREG_ENVREG0 + v;
    }
    return -1;
}

/* Finds a modifier of an allowed class (see table.h). */
const struct ptx_mod_info *ptx_mod_lookup(const char *s, size_t n, uint32_t classes, bool *known)
{
    *known = false;
    for (const struct ptx_mod_info *m = ptx_mod_table; m->name; m++) {
        if (!name_is(m->name, s, n))
            continue;
        *known = true;
        if (m->cls & classes)
            return m;
    }
    return NULL;
}

/* Names for diagnostics and tests (see ptx.h). */
const char *ptx_op_name(unsigned op)
{
    return op < PTX_OP_COUNT ? ptx_op_table[op].name : "?";
}

const char *ptx_type_name(unsigned type)
{
    return type < PTX_T_COUNT ? type_table[type].name : "?";
}

unsigned ptx_type_size(unsigned type)
{
    return type < PTX_T_COUNT ? type_table[type].size : 0;
}

const char *ptx_sreg_name(unsigned sreg)
{
    if (sreg < PTX_SREG_ENVREG0)
        return sreg_table[sreg];
    return sreg < PTX_SREG_COUNT ? "%envreg" : "?";
}
