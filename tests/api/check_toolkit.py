#!/usr/bin/env python3
"""Checks gpool's API table (include/gpool/cuda_api.def) and header against the CUDA toolkit.

  1. Every entry redeclared over the toolkit's own declarations (a conflicting prototype fails
     to compile) and its type compared with the PFN_<base>_v<version>[_ptds|_ptsz] typedef.
  2. Every PFN typedef of the toolkit's *Typedefs.h headers belongs to a table entry (or is
     listed in NO_EXPORT).
  3. The table's non-interop names equal the dynamic symbols of the toolkit's stub libcuda.so.
  4. gpool's cuda_api.h maps every name exactly as the toolkit's cuda.h does, with and without
     CUDA_API_PER_THREAD_DEFAULT_STREAM.

Usage: check_toolkit.py --cc CC... --cuda-home DIR --source-root DIR --stub LIB
"""
import argparse
import os
import re
import shlex
import subprocess
import sys
import tempfile

# PFN typedefs that have no Linux export: cuWGLGetDevice exists on Windows only.
NO_EXPORT = {'PFN_cuWGLGetDevice_v2020'}

HEADERS = ['cuda.h', 'cudaProfiler.h', 'GL/gl.h', 'cudaGL.h', 'cudaEGL.h', 'vdpau/vdpau.h',
           'cudaVDPAU.h']
TYPEDEF_HEADERS = ['cudaTypedefs.h', 'cudaProfilerTypedefs.h', 'cudaGLTypedefs.h',
                   'cudaEGLTypedefs.h', 'cudaVDPAUTypedefs.h']
INTEROP_TYPES = {'gpool_GLuint': 'GLuint', 'gpool_GLenum': 'GLenum',
                 'gpool_EGLImageKHR': 'EGLImageKHR', 'gpool_EGLStreamKHR': 'EGLStreamKHR',
                 'gpool_EGLint': 'EGLint', 'gpool_EGLSyncKHR': 'EGLSyncKHR',
                 'gpool_VdpDevice': 'VdpDevice', 'gpool_VdpGetProcAddress': 'VdpGetProcAddress',
                 'gpool_VdpVideoSurface': 'VdpVideoSurface',
                 'gpool_VdpOutputSurface': 'VdpOutputSurface'}

failures = []


def fail(msg):
    failures.append(msg)
    print('not ok - ' + msg, file=sys.stderr)


def preprocess(cc, text, args):
    with tempfile.NamedTemporaryFile('w', suffix='.c', delete=False) as f:
        f.write(text)
        path = f.name
    try:
        return subprocess.run(cc + ['-E', '-P', path] + args, check=True, capture_output=True,
                              text=True).stdout
    finally:
        os.unlink(path)


def read_table(cc, include):
    """The table's entries, read through the C preprocessor: (name, base, version, mode, interop)."""
    text = ('#define CU_API(n, b, v, m, c, p, a) @@ n b v m 0\n'
            '#define CU_API_INTEROP(n, b, v, m, c, p, a) @@ n b v m 1\n'
            '#include "gpool/cuda_api.def"\n')
    out = preprocess(cc, text, ['-I' + include])
    entries = []
    for line in out.split('@@')[1:]:
        n, b, v, m, i = line.split()[:5]
        entries.append((n, b, int(v), m, i == '1'))
    return entries


def pfn_name(name, base, version, mode):
    suffix = ''
    if mode == 'PER_THREAD':
        suffix = name[-5:]
        assert suffix in ('_ptds', '_ptsz'), name
    return 'PFN_%s_v%d%s' % (base, version, suffix)


def check_prototypes(cc, entries, cuda_inc, shim, include):
    lines = ['#define __CUDA_API_VERSION_INTERNAL 1']
    lines += ['#include <%s>' % h for h in HEADERS + TYPEDEF_HEADERS]
    lines += ['typedef %s %s;' % (t, g) for g, t in INTEROP_TYPES.items()]
    lines.append('#define CU_API(name, base, version, mode, class, params, args) '
                 'CUresult name params;')
    lines.append('#include "gpool/cuda_api.def"')
    for n, b, v, m, _ in entries:
        lines.append('_Static_assert(__builtin_types_compatible_p(%s, __typeof__(&%s)), '
                     '"%s does not match %s");' % (pfn_name(n, b, v, m), n, n, pfn_name(n, b, v, m)))
    with tempfile.NamedTemporaryFile('w', suffix='.c', delete=False) as f:
        f.write('\n'.join(lines) + '\n')
        path = f.name
    try:
        r = subprocess.run(cc + ['-std=c11', '-fsyntax-only', '-I' + shim, '-I' + cuda_inc,
                                 '-I' + include, path], capture_output=True, text=True)
        if r.returncode != 0:
            fail('table does not match the toolkit\'s prototypes:\n' + r.stderr[:6000])
    finally:
        os.unlink(path)


def check_pfn_coverage(entries, cuda_inc):
    pfns = set()
    for h in TYPEDEF_HEADERS:
        text = open(os.path.join(cuda_inc, h)).read()
        pfns |= set(re.findall(r'typedef\s+CUresult\s*\(\s*CUDAAPI\s*\*\s*(PFN_\w+)\s*\)', text))
    if len(pfns) < 600:
        fail('found only %d PFN typedefs: the header format changed?' % len(pfns))
    covered = {pfn_name(n, b, v, m) for n, b, v, m, _ in entries}
    for p in sorted(pfns - covered - NO_EXPORT):
        fail('%s has no table entry' % p)
    for p in sorted(NO_EXPORT & covered):
        fail('%s is listed in NO_EXPORT but has an entry' % p)


def check_stub(entries, stub):
    out = subprocess.run(['nm', '-D', '--defined-only', stub], check=True, capture_output=True,
                         text=True).stdout
    syms = {l.split()[-1] for l in out.splitlines() if l.strip()}
    syms = {s for s in syms if not s.startswith('_')}
    names = {n for n, _, _, _, interop in entries if not interop}
    interop = {n for n, _, _, _, i in entries if i}
    for s in sorted(syms - names):
        fail('stub exports %s, which the table lacks' % s)
    for s in sorted(names - syms):
        fail('table has %s, which the stub does not export' % s)
    for s in sorted(interop & syms):
        fail('%s is marked interop but the stub exports it' % s)
    if len({n for n, *_ in entries}) != len(entries):
        fail('duplicate names in the table')


def mapping(cc, entries, args, ptds, headers):
    names = sorted({n for n, *_ in entries} | {b for _, b, *_ in entries})
    text = '#define GPOOL_S(x) #x\n#define GPOOL_XS(x) GPOOL_S(x)\n'
    if ptds:
        text += '#define CUDA_API_PER_THREAD_DEFAULT_STREAM 1\n'
    text += ''.join('#include <%s>\n' % h for h in headers)
    text += ''.join('@@ "%s" GPOOL_XS(%s)\n' % (n, n) for n in names)
    out = preprocess(cc, text, args)
    result = {}
    for line in out.split('@@')[1:]:
        parts = line.split()
        result[parts[0].strip('"')] = parts[1].strip('"')
    return result


def check_mapping(cc, entries, cuda_inc, shim, include, source_root):
    compat = os.path.join(include, 'gpool', 'compat')
    gpool_args = ['-I' + compat, '-I' + include, '-I' + shim]
    nv_args = ['-I' + shim, '-I' + cuda_inc]
    for ptds in (False, True):
        ours = mapping(cc, entries, gpool_args, ptds, ['cuda.h'])
        theirs = mapping(cc, entries, nv_args, ptds, ['cuda.h', 'cudaGL.h', 'cudaVDPAU.h'])
        for n in sorted(theirs):
            if ours.get(n) != theirs[n]:
                fail('%s%s maps to %s with cuda.h but %s with gpool' %
                     (n, ' (per-thread)' if ptds else '', theirs[n], ours.get(n)))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--cc', required=True, help='compiler command line (shell words)')
    ap.add_argument('--cuda-home', required=True)
    ap.add_argument('--source-root', required=True)
    ap.add_argument('--stub', required=True)
    a = ap.parse_args()
    cc = shlex.split(a.cc)
    cuda_inc = os.path.join(a.cuda_home, 'include')
    include = os.path.join(a.source_root, 'include')
    shim = os.path.join(a.source_root, 'tests', 'api', 'shim')

    entries = read_table(cc, include)
    if len(entries) < 600:
        fail('read only %d entries from the table' % len(entries))
    check_prototypes(cc, entries, cuda_inc, shim, include)
    check_pfn_coverage(entries, cuda_inc)
    check_stub(entries, a.stub)
    check_mapping(cc, entries, cuda_inc, shim, include, a.source_root)
    if failures:
        print('%d failures' % len(failures), file=sys.stderr)
        return 1
    print('api-toolkit: %d entries match the toolkit' % len(entries))
    return 0


if __name__ == '__main__':
    sys.exit(main())
