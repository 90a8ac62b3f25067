/*
 * The PTX lexer: comments, words, directives, numbers (decimal, hex, octal, binary, 0f/0d float
 * bit patterns, decimal floats), strings and punctuation.
 */
#include "lex.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void lex_error(struct ptx_error *err, uint32_t line, uint32_t col, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void lex_error(struct ptx_error *err, uint32_t line, uint32_t col, const char *fmt, ...)
{
    if (!err)
        return;
    err->line = line;
    err->col = col;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
    va_end(ap);
}

static int is_word_start(int c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == '$' || c == '%';
}

static int is_word_char(int c)
{
    return is_word_start(c) || (c >= '0' && c <= '9');
}

static int hexval(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Reads the rest of a word from p: word characters, "::" and (when dots is set) dots. */
static size_t word_len_dots(const char *p, const char *end, bool dots)
{
    const char *q = p;
    while (q < end) {
        if (is_word_char((unsigned char)*q) || (dots && *q == '.'))
            q++;
        else if (*q == ':' && q + 1 < end && q[1] == ':')
            q += 2;
        else
            break;
    }
    return (size_t)(q - p);
}

static size_t word_len(const char *p, const char *end)
{
    return word_len_dots(p, end, true);
}

/* Lexes a number at p; sets t->kind, t->u and returns its length, or 0 with err filled. */
static size_t lex_number(const char *p, const char *end, struct ptx_tok *t, struct ptx_error *err)
{
    const char *q = p;
    size_t avail = (size_t)(end - p);
    if (avail >= 2 && p[0] == '0' && (p[1] == 'f' || p[1] == 'F' || p[1] == 'd' || p[1] == 'D')) {
        size_t digits = (p[1] == 'f' || p[1] == 'F') ? 8 : 16;
        uint64_t v = 0;
        size_t i;
        for (i = 0; i < digits && 2 + i < avail && hexval((unsigned char)p[2 + i]) >= 0; i++)
            v = (v << 4) | (uint64_t)hexval((unsigned char)p[2 + i]);
        if (i != digits || (2 + i < avail && is_word_char((unsigned char)p[2 + i]))) {
            lex_error(err, t->line, t->col, "bad float literal '%.*s': expected %zu hex digits",
                      (int)word_len(p, end), p, digits);
            return 0;
        }
        t->kind = digits == 8 ? PTX_TOK_F32 : PTX_TOK_F64;
        t->u = v;
        return 2 + digits;
    }
    /* A decimal float: digits with a '.' or an exponent. */
    const char *s = p;
    while (s < end && *s >= '0' && *s <= '9')
        s++;
    if (s < end && (*s == '.' || *s == 'e' || *s == 'E') &&
        !(avail >= 2 && p[0] == '0' && (p[1] == 'x' || p[1] == 'X'))) {
        char buf[128];
        size_t n = 0;
        const char *r = p;
        while (r < end && n + 1 < sizeof(buf) &&
               ((*r >= '0' && *r <= '9') || *r == '.' || *r == 'e' || *r == 'E' ||
                ((*r == '+' || *r == '-') && (r[-1] == 'e' || r[-1] == 'E'))))
            buf[n++] = *r++;
        buf[n] = 0;
        char *stop;
        double d = strtod(buf, &stop);
        if (stop != buf + n || n + 1 >= sizeof(buf) || !isfinite(d)) {
            lex_error(err, t->line, t->col, "bad number '%.*s'", (int)n, p);
            return 0;
        }
        memcpy(&t->u, &d, sizeof(d));
        t->kind = PTX_TOK_F64;
        return n;
    }
    unsigned base = 10;
    if (avail >= 2 && p[0] == '0' && (p[1] == 'x' || p[1] == 'X')) {
        base = 16;
        q = p + 2;
    } else if (avail >= 2 && p[0] == '0' && (p[1] == 'b' || p[1] == 'B')) {
        base = 2;
        q = p + 2;
    } else if (avail >= 2 && p[0] == '0' && p[1] >= '0' && p[1] <= '7') {
        base = 8;
        q = p + 1;
    }
    uint64_t v = 0;
    const char *start = q;
    bool overflow = false;
    while (q < end) {
        int d = hexval((unsigned char)*q);
        if (d < 0 || (unsigned)d >= base)
            break;
        if (v > (UINT64_MAX - (uint64_t)d) / base)
            overflow = true;
        v = v * base + (uint64_t)d;
        q++;
    }
    if (q == start) {
        lex_error(err, t->line, t->col, "bad number '%.*s': no digits", (int)word_len(p, end) + 1,
                  p);
        return 0;
    }
    if (q < end && (*q == 'U' || *q == 'u'))
        q++;
    if (q < end && is_word_char((unsigned char)*q)) {
        lex_error(err, t->line, t->col, "bad number '%.*s'", (int)(q - p + word_len(q, end)), p);
        return 0;
    }
    if (overflow) {
        lex_error(err, t->line, t->col, "number '%.*s' is too large for 64 bits", (int)(q - p), p);
        return 0;
    }
    t->kind = PTX_TOK_INT;
    t->u = v;
    return (size_t)(q - p);
}

/* Tokenises the whole text up to len bytes or the first NUL (see lex.h). */
int ptx_lex(const char *src, size_t len, struct ptx_toks *toks, struct ptx_error *err)
{
    const char *p = src, *end = src + len;
    uint32_t line = 1;
    const char *line_start = src;
    size_t cap = 0;
    int rc = 0;
    toks->v = NULL;
    toks->n = 0;

    for (;;) {
        /* Skip blanks and comments. */
        while (p < end) {
            if (*p == '\n') {
                line++;
                line_start = ++p;
            } else if (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\f' || *p == '\v') {
                p++;
            } else if (*p == '/' && p + 1 < end && p[1] == '/') {
                while (p < end && *p != '\n')
                    p++;
            } else if (*p == '/' && p + 1 < end && p[1] == '*') {
                uint32_t cl = line, cc = (uint32_t)(p - line_start) + 1;
                p += 2;
                while (p < end && !(*p == '*' && p + 1 < end && p[1] == '/')) {
                    if (*p == '\n') {
                        line++;
                        line_start = p + 1;
                    }
                    p++;
                }
                if (p >= end) {
                    lex_error(err, cl, cc, "unterminated '/*' comment");
                    rc = -EINVAL;
                    goto out;
                }
                p += 2;
            } else {
                break;
            }
        }
        if (toks->n == cap) {
            size_t ncap = cap ? cap * 2 : 256;
            struct ptx_tok *nv = realloc(toks->v, ncap * sizeof(*nv));
            if (!nv) {
                rc = -ENOMEM;
                goto out;
            }
            toks->v = nv;
            cap = ncap;
        }
        struct ptx_tok *t = &toks->v[toks->n];
        memset(t, 0, sizeof(*t));
        t->p = p;
        t->line = line;
        t->col = (uint32_t)(p - line_start) + 1;
        if (p >= end || *p == '\0') {
            t->kind = PTX_TOK_EOF;
            toks->n++;
            break;
        }
        unsigned char c = (unsigned char)*p;
        size_t n;
        if (is_word_start(c)) {
            n = word_len(p, end);
            t->kind = PTX_TOK_WORD;
        } else if (c == '.' && p + 1 < end && is_word_start((unsigned char)p[1])) {
            /* ".reg.b32" is two directives: a directive never holds a dot. */
            n = 1 + word_len_dots(p + 1, end, false);
            t->kind = PTX_TOK_DIRECTIVE;
        } else if (c >= '0' && c <= '9') {
            n = lex_number(p, end, t, err);
            if (!n) {
                rc = -EINVAL;
                goto out;
            }
        } else if (c == '"') {
            const char *q = p + 1;
            while (q < end && *q != '"' && *q != '\n') {
                if (*q == '\\' && q + 1 < end)
                    q++;
                q++;
            }
            if (q >= end || *q != '"') {
                lex_error(err, t->line, t->col, "unterminated string");
                rc = -EINVAL;
                goto out;
            }
            n = (size_t)(q + 1 - p);
            t->kind = PTX_TOK_STRING;
        } else if (strchr(",;:{}[]()<>@!+-|=", c)) {
            n = 1;
            t->kind = PTX_TOK_PUNCT;
        } else {
            if (c >= 0x20 && c < 0x7f)
                lex_error(err, t->line, t->col, "unexpected character '%c'", c);
            else
                lex_error(err, t->line, t->col, "unexpected byte 0x%02x", c);
            rc = -EINVAL;
            goto out;
        }
        if (n > UINT32_MAX) {
            lex_error(err, t->line, t->col, "token too long");
            rc = -EINVAL;
            goto out;
        }
        t->len = (uint32_t)n;
        p += n;
        toks->n++;
    }
out:
    if (rc) {
        free(toks->v);
        toks->v = NULL;
        toks->n = 0;
    }
    return rc;
}
