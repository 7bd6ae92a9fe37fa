#!/usr/bin/env python3
"""Makes every BPF program in a .bpf.c file return at once, for measuring
what the hooks cost with empty programs (bench/sockets-hook-floor.sh).
cgroup and sockops programs return 1 (allow), the others 0."""
import re
import sys

path = sys.argv[1]
out, sec = [], None
for line in open(path).read().split("\n"):
    out.append(line)
    m = re.match(r'SEC\("([^"]+)"\)', line)
    if m:
        sec = m.group(1)
    elif sec and line == "{":
        out.append("\treturn %d;" % (1 if sec.startswith(("cgroup", "sockops")) else 0))
        sec = None
open(path, "w").write("\n".join(out))
