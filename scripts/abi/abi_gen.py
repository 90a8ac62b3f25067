#!/usr/bin/env python3
"""Writes the tables tests/abi compares: gpool's cuda_abi.h against the CUDA toolkit's headers.

Usage: abi_gen.py --cc "CC ARGS" --gpool-inc DIR --toolkit-inc DIR --stub-inc DIR --outdir DIR

Both header sets are preprocessed and scanned the same way (abi_scan.py). The script writes
  abi_table.inc    one ABI_ROW(label, expression) per checked fact, from gpool's declarations:
                   enumerator values, sizeof/alignment of every type, offset/size/alignment of every
                   struct and union member, typedef identities and macro values;
  abi_diff.inc     ABI_MISSING(label) for every name the toolkit declares and gpool lacks, and
                   ABI_EXTRA(label) for every name gpool declares and the toolkit lacks.
Each of the two test translation units expands abi_table.inc against its own headers.
"""
import argparse
import os
import re
import shlex
import sys

sys.dont_write_bytecode = True  # keep the source tree clean of __pycache__
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import abi_scan  # noqa: E402

TOOLKIT_FILES = {'cuda.h', 'cudaProfiler.h', 'cudaGL.h', 'cudaEGL.h', 'cudaVDPAU.h'}
GPOOL_FILES = {'cuda_abi.h', 'cuda_result.def'}
# Macros that are header machinery rather than ABI: guards, API-version plumbing, and the
# #defines that rename entry points to their versioned symbols (those belong to the API table).
SKIP_MACRO = re.compile(r'^(__|cu[A-Z]|GPOOL_|CU_RESULT$|\w*_H$)')
FOREIGN_PREFIX = 'gpool_'
INT_WORDS = {'unsigned', 'signed', 'int', 'char', 'short', 'long', 'int32_t', 'uint32_t',
             'int64_t', 'uint64_t', 'size_t', 'cuuint32_t', 'cuuint64_t'}

TOOLKIT_TU = '''\
#include <cuda.h>
#include <cudaProfiler.h>
#include <cudaGL.h>
#include <cudaEGL.h>
#include <vdpau/vdpau.h>
#include <cudaVDPAU.h>
'''
GPOOL_TU = '#include <gpool/cuda_abi.h>\n'


def scan(cc, args, text, files, path):
    with open(path, 'w') as f:
        f.write(text)
    toks, macros = abi_scan.split_sources(abi_scan.preprocess(cc, args, path),
                                          abi_scan.basename_in(files))
    return abi_scan.scan(toks, macros)


def abi_macros(s):
    return {n: v for n, v in s.macros.items() if v is not None and not SKIP_MACRO.match(n)}


def c_str(s):
    return '"' + s.replace('\\', '\\\\').replace('"', '\\"') + '"'


def is_function_type(spelling):
    # A typedef of a function type (not a pointer to one) has no size.
    return spelling is not None and '(' in spelling and '*' not in spelling.split('(')[1]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--cc', required=True)
    ap.add_argument('--gpool-inc', required=True)
    ap.add_argument('--toolkit-inc', required=True)
    ap.add_argument('--stub-inc', required=True)
    ap.add_argument('--outdir', required=True)
    o = ap.parse_args()
    cc = shlex.split(o.cc)
    os.makedirs(o.outdir, exist_ok=True)
    g = scan(cc, ['-I' + o.gpool_inc], GPOOL_TU, GPOOL_FILES,
             os.path.join(o.outdir, 'abi_scan_gpool.c'))
    t = scan(cc, ['-I' + o.toolkit_inc, '-idirafter', o.stub_inc,
                  '-D__CUDA_API_VERSION_INTERNAL', '-D__CUDA_API_VERSION_INTERNAL_ODR'],
             TOOLKIT_TU, TOOLKIT_FILES, os.path.join(o.outdir, 'abi_scan_toolkit.c'))

    def toolkit_name(n):
        return n[len(FOREIGN_PREFIX):] if n.startswith(FOREIGN_PREFIX) else n

    # Foreign (graphics) types are declared by the GL/EGL/VDPAU headers, not the CUDA ones.
    foreign = {n for n in g.typedefs if n.startswith(FOREIGN_PREFIX)}
    kinds = [('enumerator', g.enumerators, t.enumerators),
             ('type', g.aggregates, t.aggregates),
             ('enum', g.enums, t.enums),
             ('typedef', {n: 1 for n in g.typedefs if n not in foreign}, t.typedefs),
             ('macro', abi_macros(g), abi_macros(t))]
    diff = []
    present = {}
    for kind, mine, theirs in kinds:
        for n in theirs:
            if n not in mine:
                diff.append('ABI_MISSING(%s)' % c_str(kind + ' ' + n))
        for n in mine:
            if n not in theirs:
                diff.append('ABI_EXTRA(%s)' % c_str(kind + ' ' + n))
        present[kind] = [n for n in mine if n in theirs]

    rows = []

    def row(label, expr):
        rows.append('ABI_ROW(%s, %s)' % (c_str(label), expr))

    for n in present['enumerator']:
        row('value of ' + n, n)
    for n in present['enum']:
        row('signedness of ' + n, '((%s)-1 < 0)' % n)
    for n in present['type']:
        row('sizeof ' + n, 'sizeof(%s)' % n)
        row('alignof ' + n, '_Alignof(%s)' % n)
        for p in abi_scan.field_paths(g, g.aggregates[n]):
            row('offsetof %s.%s' % (n, p), 'offsetof(%s, %s)' % (n, p))
            row('sizeof %s.%s' % (n, p), 'sizeof(((%s *)0)->%s)' % (n, p))
            row('alignof %s.%s' % (n, p), '__alignof__(((%s *)0)->%s)' % (n, p))
    typedefs = present['typedef'] + sorted(foreign)
    for n in typedefs:
        sp = g.typedefs[n]
        if not is_function_type(sp):
            row('sizeof ' + n, 'sizeof(%s)' % n)
            row('alignof ' + n, '_Alignof(%s)' % n)
        if sp is not None:
            row('typedef %s is %s' % (n, sp), '__builtin_types_compatible_p(%s, %s)' % (n, sp))
            if set(sp.split()) <= INT_WORDS:
                row('signedness of ' + n, '((%s)-1 < 0)' % n)
    for n in present['macro']:
        if g.macros[n] == '':
            rows.append('#ifdef %s\nABI_ROW(%s, 1)\n#else\nABI_ROW(%s, 0)\n#endif' %
                        (n, c_str('defined ' + n), c_str('defined ' + n)))
            continue
        row('value of ' + n, '(long long)(intptr_t)(%s)' % n)
        row('sizeof ' + n, 'sizeof(%s)' % n)
        row('type class of ' + n, '__builtin_classify_type(%s)' % n)

    with open(os.path.join(o.outdir, 'abi_table.inc'), 'w') as f:
        f.write('/* Generated by scripts/abi/abi_gen.py; do not edit. */\n')
        f.write('\n'.join(rows) + '\n')
    with open(os.path.join(o.outdir, 'abi_diff.inc'), 'w') as f:
        f.write('/* Generated by scripts/abi/abi_gen.py; do not edit. */\n')
        f.write('\n'.join(diff) + '\n')
    with open(os.path.join(o.outdir, 'abi_foreign.h'), 'w') as f:
        f.write('/* Generated by scripts/abi/abi_gen.py; do not edit. */\n')
        for n in sorted(foreign):
            f.write('#define %s %s\n' % (n, toolkit_name(n)))
    return 0


if __name__ == '__main__':
    sys.exit(main())
