/*
 * libFuzzer target for the PTX front end: any bytes must either parse into a module whose records
 * are self-consistent or be rejected with a message; never crash, hang or leak.
 */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ptx.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_module(const struct ptx_module *mod)
{
    for (uint32_t i = 0; i < mod->nfuncs; i++) {
        const struct ptx_function *fn = &mod->funcs[i];
        for (uint32_t j = 0; j < fn->ninsns; j++) {
            const struct ptx_insn *in = &fn->insns[j];
            if (in->op >= PTX_OP_COUNT || in->nops > PTX_MAX_OPERANDS)
                abort();
            for (unsigned k = 0; k < in->nops; k++) {
                const struct ptx_operand *o = &in->ops[k];
                if (o->kind == PTX_OPND_LABEL && o->index > fn->ninsns)
                    abort();
                if (o->kind == PTX_OPND_REG &&
                    (o->rclass >= PTX_RC_COUNT || o->index >= fn->nregs[o->rclass]))
                    abort();
                if ((o->kind == PTX_OPND_VEC || o->kind == PTX_OPND_LIST) &&
                    (uint64_t)o->index + (uint64_t)o->imm > fn->nxops)
                    abort();
                if (o->kind == PTX_OPND_FUNC && o->index >= mod->nfuncs)
                    abort();
            }
        }
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct ptx_module *mod = NULL;
    struct ptx_error err;
    int rc = ptx_parse((const char *)data, size, &mod, &err);
    if (rc == 0) {
        check_module(mod);
        ptx_module_free(mod);
    } else if (rc == -EINVAL) {
        /* A rejection always says why. */
        if (!err.msg[0] || !memchr(err.msg, 0, sizeof(err.msg)))
            abort();
    } else if (rc != -ENOMEM && rc != -E2BIG) {
        abort();
    }
    return 0;
}
