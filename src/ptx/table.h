/*
 * Tables of the PTX front end (private to src/ptx): opcode facts from PTX_OPS, dotted modifiers,
 * and lookups by name.
 */
#ifndef GPOOL_PTX_TABLE_H
#define GPOOL_PTX_TABLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ptx.h"

struct ptx_op_info {
    const char *name;
    uint32_t classes;   /* PTX_MC_* the opcode accepts */
    uint32_t types;     /* PTX_TM_* mask */
    uint8_t tmin, tmax; /* how many type suffixes */
    uint8_t omin, omax; /* how many operands (a d|p pair counts once) */
};

/* Which record field a modifier sets. */
enum ptx_field {
    PTX_FIELD_FLAG,
    PTX_FIELD_RND,
    PTX_FIELD_CMP,
    PTX_FIELD_BOOL,
    PTX_FIELD_SPACE,
    PTX_FIELD_VEC,
    PTX_FIELD_MODE,
    PTX_FIELD_SCOPE,
    PTX_FIELD_SEM,
};

struct ptx_mod_info {
    const char *name;
    uint32_t cls;   /* one PTX_MC_* bit */
    uint8_t field;  /* enum ptx_field */
    uint32_t value; /* flag bit or enum value */
};

extern const struct ptx_op_info ptx_op_table[PTX_OP_COUNT];
extern const struct ptx_mod_info ptx_mod_table[];

/* Returns the opcode named s[0..n), or -1. */
int ptx_op_lookup(const char *s, size_t n);

/* Returns the type named s[0..n) (no dot), or -1. */
int ptx_type_lookup(const char *s, size_t n);

/* Returns the special register named s[0..n) (with its '%'), or -1. */
int ptx_sreg_lookup(const char *s, size_t n);

/* Returns the modifier s[0..n) of one of the given classes, or NULL; *known says whether the word
 * is a modifier of any class. */
const struct ptx_mod_info *ptx_mod_lookup(const char *s, size_t n, uint32_t classes, bool *known);

#endif
