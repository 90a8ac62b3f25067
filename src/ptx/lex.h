/*
 * The PTX lexer (private to src/ptx). Turns the whole text into an array of tokens before parsing,
 * so the parser can look ahead freely. Words keep their dots and "::" (an opcode such as
 * ld.global.nc.v4.f32, a special register such as %tid.x, a hint such as .L1::no_allocate is one
 * token); punctuation is one token per character.
 */
#ifndef GPOOL_PTX_LEX_H
#define GPOOL_PTX_LEX_H

#include <stddef.h>
#include <stdint.h>

#include "ptx.h"

enum ptx_tok_kind {
    PTX_TOK_EOF,
    PTX_TOK_WORD,      /* identifier, opcode, %register */
    PTX_TOK_DIRECTIVE, /* .word */
    PTX_TOK_INT,       /* u: the value (no sign) */
    PTX_TOK_F32,       /* 0fXXXXXXXX: u holds the bits */
    PTX_TOK_F64,       /* 0dXXXXXXXXXXXXXXXX or a decimal float: u holds the f64 bits */
    PTX_TOK_STRING,    /* "..." (p/len include the quotes) */
    PTX_TOK_PUNCT,     /* one character: p[0] */
};

struct ptx_tok {
    const char *p;
    uint32_t len;
    uint8_t kind;
    uint32_t line;
    uint32_t col;
    uint64_t u;
};

struct ptx_toks {
    struct ptx_tok *v;
    size_t n;
};

/* Tokenises src[0..len). Returns 0 and fills toks (caller frees toks->v; the last token is EOF),
 * -EINVAL with err filled for bad text, or -ENOMEM. */
int ptx_lex(const char *src, size_t len, struct ptx_toks *toks, struct ptx_error *err);

#endif
