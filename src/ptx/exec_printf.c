/*
 * Device printf: formats a vprintf(format, args) call the way CUDA's runtime does, from the format
 * string and the packed argument buffer nvcc builds (each argument at the next multiple of its own
 * size: 4 bytes for int/char/short, 8 for long, long long, pointers and doubles — floats are
 * promoted to double).
 */
#include "exec_internal.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

struct outbuf {
    char *p;
    size_t cap, len;
};

static void put(struct outbuf *o, const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (o->len + 1 < o->cap)
            o->p[o->len] = s[i];
        o->len++;
    }
}

static void putf(struct outbuf *o, const char *fmt, ...)
{
    char tmp[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
    va_end(ap);
    if (n > 0)
        put(o, tmp, (size_t)n < sizeof(tmp) ? (size_t)n : sizeof(tmp) - 1);
}

static int take(const uint8_t *args, size_t nargs, size_t *pos, unsigned size, uint64_t *v)
{
    size_t p = (*pos + size - 1) / size * size;
    if (!args || p + size > nargs)
        return -1;
    *v = 0;
    memcpy(v, args + p, size);
    *pos = p + size;
    return 0;
}

size_t xprintf_format(char *out, size_t cap, const char *fmt, const uint8_t *args, size_t nargs,
                      const char *(*str_at)(void *ctx, uint64_t addr, size_t *max), void *ctx)
{
    struct outbuf o = {out, cap, 0};
    size_t pos = 0;
    for (const char *f = fmt; *f;) {
        if (*f != '%') {
            const char *q = strchr(f, '%');
            size_t n = q ? (size_t)(q - f) : strlen(f);
            put(&o, f, n);
            f += n;
            continue;
        }
        if (f[1] == '%') {
            put(&o, "%", 1);
            f += 2;
            continue;
        }
        /* %[flags][width][.precision][length]conv; '*' widths are not supported by CUDA. */
        char spec[64];
        size_t sl = 0;
        const char *s = f++;
        while (*f && strchr("-+ #0", *f))
            f++;
        while (*f >= '0' && *f <= '9')
            f++;
        if (*f == '.') {
            f++;
            while (*f >= '0' && *f <= '9')
                f++;
        }
        int lng = 0;
        while (*f && strchr("hlLqjzt", *f)) {
            if (*f == 'l' || *f == 'L' || *f == 'q' || *f == 'j' || *f == 'z' || *f == 't')
                lng++;
            f++;
        }
        char conv = *f;
        if (!conv)
            break;
        f++;
        /* Rebuild the spec without length modifiers; we pass 64-bit values with ll. */
        for (const char *t = s; t < f - 1 && sl + 4 < sizeof(spec); t++)
            if (!strchr("hlLqjzt", *t))
                spec[sl++] = *t;
        uint64_t v = 0;
        switch (conv) {
        case 'd': case 'i': case 'u': case 'x': case 'X': case 'o': case 'c': {
            unsigned sz = lng ? 8 : 4;
            if (take(args, nargs, &pos, sz, &v))
                goto missing;
            if (conv == 'c') {
                spec[sl++] = 'c';
                spec[sl] = 0;
                putf(&o, spec, (int)(unsigned char)v);
                break;
            }
            spec[sl++] = 'l';
            spec[sl++] = 'l';
            spec[sl++] = conv;
            spec[sl] = 0;
            if (conv == 'd' || conv == 'i')
                putf(&o, spec, sz == 4 ? (long long)(int32_t)v : (long long)v);
            else
                putf(&o, spec, sz == 4 ? (unsigned long long)(uint32_t)v : (unsigned long long)v);
            break;
        }
        case 'f': case 'F': case 'e': case 'E': case 'g': case 'G': case 'a': case 'A': {
            double d;
            if (take(args, nargs, &pos, 8, &v))
                goto missing;
            memcpy(&d, &v, 8);
            spec[sl++] = conv;
            spec[sl] = 0;
            putf(&o, spec, d);
            break;
        }
        case 'p':
            if (take(args, nargs, &pos, 8, &v))
                goto missing;
            putf(&o, "0x%llx", (unsigned long long)v);
            break;
        case 's': {
            if (take(args, nargs, &pos, 8, &v))
                goto missing;
            size_t max = 0;
            const char *str = v ? str_at(ctx, v, &max) : NULL;
            if (!str) {
                put(&o, "(null)", 6);
                break;
            }
            /* Written directly (not through putf's bounded buffer) so a long string is never
             * cut; only '-', width and precision apply to %s. */
            int left = 0;
            size_t width = 0, prec = SIZE_MAX;
            const char *t = s + 1;
            for (; *t && strchr("-+ #0", *t); t++)
                left |= *t == '-';
            for (; *t >= '0' && *t <= '9'; t++)
                width = width * 10 + (size_t)(*t - '0');
            if (*t == '.') {
                prec = 0;
                for (t++; *t >= '0' && *t <= '9'; t++)
                    prec = prec * 10 + (size_t)(*t - '0');
            }
            size_t n = strnlen(str, max < prec ? max : prec);
            for (size_t i = n; !left && i < width; i++)
                put(&o, " ", 1);
            put(&o, str, n);
            for (size_t i = n; left && i < width; i++)
                put(&o, " ", 1);
            break;
        }
        default:
            put(&o, s, (size_t)(f - s));
            break;
        }
        continue;
missing:
        put(&o, s, (size_t)(f - s));
    }
    if (cap)
        out[o.len < cap ? o.len : cap - 1] = 0;
    return o.len;
}
