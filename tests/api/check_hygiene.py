#!/usr/bin/env python3
"""Library hygiene of a gpool libcuda.so.1 / libnvidia-ml.so.1 (see docs/internals/api-table.md).

  - it exports only symbols with the given prefix (cu / nvml), all unversioned (no version
    definitions at all, as NVIDIA's libraries have none);
  - with --table, it exports every entry of the API table;
  - it binds its own references to itself (DT_SYMBOLIC or DF_SYMBOLIC);
  - it needs only system libraries (plus the sanitizer runtimes in a sanitizer build);
  - it runs no constructor of its own: every .init_array entry is the toolchain's frame_dummy
    (or a sanitizer's module constructor in a sanitizer build).

Usage: check_hygiene.py --lib PATH --prefix cu [--table cuda_api.def] [--sanitize]
"""
import argparse
import re
import subprocess
import sys

SYSTEM_LIBS = re.compile(r'^(libc\.so\.6|libm\.so\.6|libpthread\.so\.0|libdl\.so\.2|librt\.so\.1|'
                         r'ld-linux[-\w.]*\.so\.\d+)$')
SANITIZER_LIBS = re.compile(r'^lib(asan|ubsan|lsan|tsan|gcc_s|stdc\+\+)\.so[.\d]*$')
TOOLCHAIN_CTORS = {'frame_dummy'}
# What a sanitizer build adds: clang's asan.module_ctor, gcc's per-file _sub_I_00099_N.
SANITIZER_CTORS = re.compile(r'^(asan\.module_ctor|ubsan\.module_ctor|(_GLOBAL_)?_sub_I_\d{5}_\d+)$')

failures = []


def fail(msg):
    failures.append(msg)
    print('not ok - ' + msg, file=sys.stderr)


def readelf(*args):
    return subprocess.run(['readelf', '-W'] + list(args), check=True, capture_output=True,
                          text=True).stdout


def check_exports(lib, prefix, table):
    exported = set()
    for line in readelf('--dyn-syms', lib).splitlines():
        f = line.split()
        if len(f) < 8 or not f[0][:-1].isdigit() or f[6] == 'UND' or f[4] == 'LOCAL':
            continue
        name = f[7]
        if '@' in name:
            fail('%s exports %s with a symbol version' % (lib, name))
            name = name.split('@')[0]
        if not name.startswith(prefix):
            fail('%s exports %s, which is not a %s* symbol' % (lib, name, prefix))
        exported.add(name)
    if 'VERDEF' in readelf('-d', lib):
        fail('%s defines symbol versions' % lib)
    if table:
        names = re.findall(r'^CU_API(?:_INTEROP)?\((\w+),', open(table).read(), re.M)
        if len(names) < 600:
            fail('read only %d names from %s' % (len(names), table))
        for n in names:
            if n not in exported:
                fail('%s does not export %s' % (lib, n))
    return exported


def check_dynamic(lib, sanitize):
    dyn = readelf('-d', lib)
    if not re.search(r'\(SYMBOLIC\)', dyn) and not re.search(r'\(FLAGS\)\s+.*\bSYMBOLIC\b', dyn):
        fail('%s is not linked -Bsymbolic (no DT_SYMBOLIC / DF_SYMBOLIC)' % lib)
    for needed in re.findall(r'\(NEEDED\)\s+Shared library: \[([^\]]+)\]', dyn):
        if SYSTEM_LIBS.match(needed):
            continue
        if sanitize and SANITIZER_LIBS.match(needed):
            continue
        fail('%s needs %s, which is not a system library' % (lib, needed))


def check_constructors(lib, sanitize):
    start = size = None
    for line in readelf('-S', lib).splitlines():
        m = re.search(r'\]\s+\.init_array\s+\S+\s+([0-9a-f]+)\s+[0-9a-f]+\s+([0-9a-f]+)', line)
        if m:
            start, size = int(m.group(1), 16), int(m.group(2), 16)
        if re.search(r'\]\s+\.ctors\s', line):
            fail('%s has a .ctors section' % lib)
    if start is None:
        return
    # Entries are filled by relocations: R_*_RELATIVE (the addend is the function's address) or
    # a symbol reference.
    targets = []
    for line in readelf('-r', lib).splitlines():
        f = line.split()
        if len(f) < 3 or not re.match(r'^[0-9a-f]{8,}$', f[0]):
            continue
        off = int(f[0], 16)
        if not start <= off < start + size:
            continue
        if f[2].endswith('RELATIVE'):
            targets.append(('addr', int(f[-1], 16)))
        else:
            targets.append(('name', f[4] if len(f) > 4 else '?'))
    if len(targets) != size // 8:
        fail('%s: %d .init_array entries but %d relocations for them' %
             (lib, size // 8, len(targets)))
    symtab = {}
    for line in readelf('-s', lib).splitlines():
        f = line.split()
        if len(f) >= 8 and f[3] == 'FUNC' and f[0][:-1].isdigit():
            symtab.setdefault(int(f[1], 16), f[7].split('@')[0])
    for kind, value in targets:
        name = symtab.get(value, '0x%x' % value) if kind == 'addr' else value
        if name in TOOLCHAIN_CTORS:
            continue
        if sanitize and SANITIZER_CTORS.match(name):
            continue
        fail('%s runs a constructor: %s' % (lib, name))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--lib', required=True)
    ap.add_argument('--prefix', required=True)
    ap.add_argument('--table')
    ap.add_argument('--sanitize', action='store_true')
    a = ap.parse_args()
    exported = check_exports(a.lib, a.prefix, a.table)
    check_dynamic(a.lib, a.sanitize)
    check_constructors(a.lib, a.sanitize)
    if failures:
        print('%d failures' % len(failures), file=sys.stderr)
        return 1
    print('api-hygiene: %s: %d %s* exports, clean' % (a.lib, len(exported), a.prefix))
    return 0


if __name__ == '__main__':
    sys.exit(main())
