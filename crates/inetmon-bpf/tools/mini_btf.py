#!/usr/bin/env python3
"""Writes a minimal BTF blob holding only the drop-reason enums of a kernel
(skb_drop_reason, skb_drop_reason_subsys and any *_drop_reason enum), for
test fixtures. Input: `bpftool btf dump file /sys/kernel/btf/vmlinux` text on
stdin. Output: the blob (little-endian) to the path given.
"""
import re
import struct
import sys

enums = []
cur = None
for line in sys.stdin:
    m = re.match(r"\[\d+\] (ENUM|ENUM64) '([^']*)' encoding=(\w+) size=(\d+) vlen=(\d+)", line)
    if m:
        name = m.group(2)
        keep = name in ("skb_drop_reason", "skb_drop_reason_subsys") or name.endswith("_drop_reason")
        cur = {"name": name, "values": [], "signed": m.group(3) == "SIGNED"} if keep and m.group(1) == "ENUM" else None
        if cur:
            enums.append(cur)
        continue
    if line.startswith("["):
        cur = None
        continue
    m = re.match(r"\s+'([^']*)' val=(-?\d+)", line)
    if m and cur is not None:
        cur["values"].append((m.group(1), int(m.group(2))))

strings = bytearray(b"\0")
def s(x):
    off = len(strings)
    strings.extend(x.encode() + b"\0")
    return off

types = bytearray()
for e in enums:
    kflag = 1 << 31 if e["signed"] else 0
    types += struct.pack("<III", s(e["name"]), kflag | 6 << 24 | len(e["values"]), 4)
    for n, v in e["values"]:
        types += struct.pack("<II", s(n), v & 0xFFFFFFFF)
hdr = struct.pack("<HBBIIIII", 0xEB9F, 1, 0, 24, 0, len(types), len(types), len(strings))
with open(sys.argv[1], "wb") as f:
    f.write(hdr + types + strings)
print(f"{len(enums)} enums: {[e['name'] for e in enums]}", file=sys.stderr)
