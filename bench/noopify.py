#!/usr/bin/env python3
"""Makes every BPF program in a .bpf.c file return at once, for measuring
what the hooks cost with empty programs (bench/sockets-hook-floor.sh,
bench/noop-build.sh). cgroup and sockops programs return 1 (allow), the
others 0. Programs written out (`SEC(...)` then a body) get a return as
their first statement; programs made by sock.bpf.c's one-line macros
(`PROG(section, name, context type, call)` and
`EXIT_PROG(tracepoint, name, body)`) are replaced by an empty program of
the same section, name and context. Prints how many programs it emptied;
fails when the file has none, or a macro invocation it cannot read."""
import re
import sys


def ret(sec):
    return 1 if sec.startswith(("cgroup", "sockops")) else 0


path = sys.argv[1]
text = open(path).read()
n = 0


def prog(m):
    global n
    n += 1
    sec, name, ctx = m.group(1), m.group(2), m.group(3)
    return 'SEC("%s") int %s(%s *ctx) { return %d; }' % (sec, name, ctx, ret(sec))


def exit_prog(m):
    global n
    n += 1
    return ('SEC("tracepoint/syscalls/%s") int %s(struct trace_event_raw_sys_exit *ctx) '
            "{ return 0; }" % (m.group(1), m.group(2)))


text = re.sub(r'^PROG\("([^"]+)",\s*(\w+),\s*(struct \w+),.*?\)$', prog, text, flags=re.M | re.S)
text = re.sub(r'^EXIT_PROG\("([^"]+)",\s*(\w+),\s*\w+\)$', exit_prog, text, flags=re.M)
left = re.findall(r"^(?:EXIT_)?PROG\(.*$", text, flags=re.M)
if left:
    sys.exit("noopify: cannot read %s" % left)
out, sec = [], None
for line in text.split("\n"):
    out.append(line)
    m = re.match(r'SEC\("([^"]+)"\)$', line)
    if m:
        sec = m.group(1)
    elif sec and line == "{":
        out.append("\treturn %d;" % ret(sec))
        n += 1
        sec = None
if n == 0:
    sys.exit("noopify: no program in " + path)
open(path, "w").write("\n".join(out))
print("noopify: %d programs emptied" % n, file=sys.stderr)
