#!/usr/bin/env python3
"""Scan preprocessed C (cc -E -dD output) for the ABI a header declares.

gpool uses this to check include/gpool/cuda_abi.h against the CUDA toolkit: the same scanner reads
both gpool's header and the toolkit's, so "what gpool declares" and "what the toolkit declares" are
listed the same way. It understands the subset of C that driver-API headers use: typedefs, struct,
union and enum definitions (nested and anonymous members, arrays, function pointers) and
object-like macros. Function prototypes and everything else are skipped.
"""
import os
import re

TOKEN_RE = re.compile(r'''
    (?P<ws>[ \t\r\f\v]+) |
    (?P<nl>\n) |
    (?P<str>"(?:\\.|[^"\\])*") |
    (?P<chr>'(?:\\.|[^'\\])*') |
    (?P<num>\.?[0-9](?:[eEpP][+-]|[0-9a-zA-Z_.])*) |
    (?P<id>[A-Za-z_][A-Za-z0-9_]*) |
    (?P<punct>\.\.\.|<<|>>|->|[-+*/%&|^~!<>=?:;,.(){}\[\]#])
''', re.X)

LINE_MARK_RE = re.compile(r'^#\s*(?:line\s+)?(\d+)\s+"([^"]*)"')
DEFINE_RE = re.compile(r'^#\s*define\s+([A-Za-z_][A-Za-z0-9_]*)(\()?\s*(.*)$')
UNDEF_RE = re.compile(r'^#\s*undef\s+([A-Za-z_][A-Za-z0-9_]*)')

KEYWORDS = {'struct', 'union', 'enum', 'typedef', 'const', 'volatile', 'unsigned', 'signed',
            'int', 'char', 'short', 'long', 'float', 'double', 'void', 'extern', 'static',
            'inline', '__inline', '__inline__', 'restrict', '__restrict', '__extension__',
            '_Bool', 'sizeof'}


def _tokens(text):
    out = []
    for m in TOKEN_RE.finditer(text):
        kind = m.lastgroup
        if kind in ('ws', 'nl'):
            continue
        out.append(m.group())
    return out


def _strip_attributes(toks):
    """Drops alignment specifiers and GNU attributes: they change no name, and layout is
    checked by compiling, not by reading."""
    out, i = [], 0
    while i < len(toks):
        if toks[i] in ('_Alignas', 'alignas', '__attribute__', '__declspec') and \
                i + 1 < len(toks) and toks[i + 1] == '(':
            i = _match(toks, i + 1, '(', ')')
            continue
        out.append(toks[i])
        i += 1
    return out


def split_sources(pp_text, keep):
    """Returns (tokens, macros) of the parts of pp_text whose file passes keep(path).

    macros is an ordered dict name -> (value text or None for function-like).
    """
    cur = None
    chunks = []
    macros = {}
    for line in pp_text.split('\n'):
        m = LINE_MARK_RE.match(line)
        if m:
            cur = m.group(2)
            continue
        if line.startswith('#'):
            if cur is None or not keep(cur):
                continue
            d = DEFINE_RE.match(line)
            if d:
                macros[d.group(1)] = None if d.group(2) else d.group(3).strip()
            u = UNDEF_RE.match(line)
            if u:
                macros.pop(u.group(1), None)
            continue
        if cur is not None and keep(cur):
            chunks.append(line)
    return _strip_attributes(_tokens('\n'.join(chunks))), macros


def _match(toks, i, open_, close):
    """Index just past the bracket that closes toks[i] (which is open_)."""
    depth = 0
    while i < len(toks):
        if toks[i] == open_:
            depth += 1
        elif toks[i] == close:
            depth -= 1
            if depth == 0:
                return i + 1
        i += 1
    raise ValueError('unbalanced ' + open_)


def _split_top(toks, sep):
    """Splits toks on sep at bracket depth 0."""
    parts, cur, depth = [], [], 0
    for t in toks:
        if t in '({[':
            depth += 1
        elif t in ')}]':
            depth -= 1
        if t == sep and depth == 0:
            parts.append(cur)
            cur = []
        else:
            cur.append(t)
    if cur:
        parts.append(cur)
    return parts


def top_level_decls(toks):
    """Splits a token stream into top-level declarations, skipping function bodies."""
    decls, cur, i = [], [], 0
    while i < len(toks):
        t = toks[i]
        if t == '{':
            j = _match(toks, i, '{', '}')
            # A body after ')' is a function definition: drop it whole.
            if cur and cur[-1] == ')' and cur[0] != 'typedef':
                cur = []
                i = j
                continue
            cur.extend(toks[i:j])
            i = j
            continue
        if t == ';':
            if cur:
                decls.append(cur)
            cur = []
        elif t in ('(', '['):
            j = _match(toks, i, t, ')' if t == '(' else ']')
            cur.extend(toks[i:j])
            i = j
            continue
        else:
            cur.append(t)
        i += 1
    return decls


class Aggregate:
    """A struct or union: kind, tag (or None) and members [(name or None, spec, declarator)]."""

    def __init__(self, kind, tag, members):
        self.kind, self.tag, self.members = kind, tag, members


class Enum:
    def __init__(self, tag, items):
        self.tag, self.items = tag, items     # items: [(name, value tokens or None)]


def _parse_specifier(toks):
    """Splits a declaration's leading type specifier from its declarators.

    Returns (spec tokens, body object or None, rest tokens). spec holds the specifier with any
    inline body replaced by nothing (e.g. ['struct', 'CUfoo_st'] or ['struct']).
    """
    i = 0
    spec = []
    body = None
    while i < len(toks):
        t = toks[i]
        if t in ('struct', 'union', 'enum'):
            spec.append(t)
            i += 1
            tag = None
            if i < len(toks) and re.match(r'[A-Za-z_]\w*$', toks[i]) and toks[i] not in KEYWORDS:
                tag = toks[i]
                spec.append(tag)
                i += 1
            if i < len(toks) and toks[i] == '{':
                j = _match(toks, i, '{', '}')
                inner = toks[i + 1:j - 1]
                body = _parse_enum(tag, inner) if t == 'enum' else \
                    Aggregate(t, tag, _parse_members(inner))
                i = j
            continue
        if t in ('const', 'volatile', 'unsigned', 'signed', 'int', 'char', 'short', 'long',
                 'float', 'double', 'void', '_Bool', '__extension__', 'extern', 'static'):
            spec.append(t)
            i += 1
            continue
        if re.match(r'[A-Za-z_]\w*$', t) and not any(
                s not in ('const', 'volatile', 'extern', 'static', '__extension__') for s in spec):
            spec.append(t)                # a typedef name used as the type
            i += 1
            continue
        break
    return spec, body, toks[i:]


def _parse_enum(tag, toks):
    items = []
    for part in _split_top(toks, ','):
        if not part:
            continue
        if '=' in part:
            k = part.index('=')
            items.append((part[0], part[k + 1:]))
        else:
            items.append((part[0], None))
    return Enum(tag, items)


def declarator_name(decl):
    """The identifier a declarator declares (None for abstract ones)."""
    for t in decl:
        if re.match(r'[A-Za-z_]\w*$', t) and t not in KEYWORDS and t not in (
                'CUDAAPI', 'CUDA_CB', '__attribute__'):
            return t
        if t == '[':
            return None
    return None


def _parse_members(toks):
    members = []
    for d in top_level_decls(toks):
        spec, body, rest = _parse_specifier(d)
        decls = _split_top(rest, ',') if rest else []
        if not decls:
            members.append((None, spec, body, []))     # anonymous struct/union member
            continue
        for dcl in decls:
            members.append((declarator_name(dcl), spec, body, dcl))
    return members


class Scan:
    """Everything one header declares."""

    def __init__(self):
        self.enums = {}        # name -> Enum (name: typedef name, else 'enum TAG')
        self.aggregates = {}   # name -> Aggregate (name: typedef name, else 'struct TAG')
        self.typedefs = {}     # name -> type-name spelling
        self.enumerators = {}  # name -> enum name
        self.macros = {}       # name -> value text (None: function-like)
        self.order = []        # top-level declarations, as (kind, name, tokens)


def _spelling(spec, body, dcl, name):
    """The type-name a typedef names, e.g. 'struct CUctx_st *'."""
    if body is not None and (len(spec) < 2 or spec[-1] in ('struct', 'union', 'enum')):
        return None                                    # untagged inline body: no spelling
    abstract = [t for t in dcl if t != name]
    return ' '.join(spec + abstract)


def scan(tokens, macros):
    s = Scan()
    s.macros = macros
    for d in top_level_decls(tokens):
        if d[0] == '__extension__':
            d = d[1:]
        is_typedef = d[0] == 'typedef'
        spec, body, rest = _parse_specifier(d[1:] if is_typedef else d)
        declarators = _split_top(rest, ',') if rest else []
        if not is_typedef:
            if body is not None and not declarators:
                key = spec[0] + ' ' + spec[1]
                (s.enums if isinstance(body, Enum) else s.aggregates)[key] = body
                s.order.append(('tag', key, d))
                if isinstance(body, Enum):
                    for n, _ in body.items:
                        s.enumerators[n] = key
            continue
        names = [declarator_name(x) for x in declarators]
        if body is not None:
            # Name the body after the first plain (non-pointer) declarator.
            plain = [n for n, x in zip(names, declarators) if len(x) == 1]
            key = plain[0] if plain else (spec[0] + ' ' + spec[1])
            if isinstance(body, Enum):
                s.enums[key] = body
                for n, _ in body.items:
                    s.enumerators[n] = key
            else:
                s.aggregates[key] = body
            if body.tag:
                tagkey = spec[0] + ' ' + body.tag
                if tagkey != key:
                    (s.enums if isinstance(body, Enum) else s.aggregates)[tagkey] = body
        for n, x in zip(names, declarators):
            s.typedefs[n] = _spelling(spec, body, x, n)
        s.order.append(('typedef', names[0], d))
    return s


def field_paths(scan_, agg, prefix=''):
    """Yields every member access path of agg (e.g. 'res.array.hArray'), depth first."""
    for name, spec, body, dcl in agg.members:
        if name is None:
            if isinstance(body, Aggregate):
                yield from field_paths(scan_, body, prefix)
            continue
        path = prefix + name
        yield path
        if isinstance(body, Aggregate) and '[' not in dcl and '*' not in dcl:
            yield from field_paths(scan_, body, path + '.')


def preprocess(cc, args, source):
    import subprocess
    return subprocess.run(cc + ['-E', '-dD'] + args + [source], check=True,
                          capture_output=True, text=True).stdout


def basename_in(names):
    return lambda path: os.path.basename(path) in names
