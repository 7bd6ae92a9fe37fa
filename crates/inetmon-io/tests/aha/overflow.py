"""Two subscriptions to one monitor file, overflow, and a refused spec.

    overflow.py PATH

1. A third open gets a malformed specification: prints "bad: EINVAL".
2. Arms sub A (INFO_LVL=2, BUF_SIZE=4096) and sub B (INFO_LVL=1,
   BUF_SIZE=65536), both WAIT_IN_SELECT; prints "armed".
3. Waits for a line on stdin (the test has published its events), then
   polls both, reads each until EAGAIN and prints
   "A\n<data>B\n<data>".
"""
import errno
import os
import select
import sys

path = sys.argv[1]
bad = os.open(path, os.O_CREAT | os.O_RDWR)
try:
    os.write(bad, b"CHANGED=YES;INFO_LVL=9")
    print("bad: accepted", flush=True)
except OSError as e:
    print("bad: " + errno.errorcode.get(e.errno, str(e.errno)), flush=True)
os.close(bad)
a = os.open(path, os.O_RDWR)
b = os.open(path, os.O_RDWR)
os.write(a, b"CHANGED=YES;WAIT_TYPE=WAIT_IN_SELECT;INFO_LVL=2;BUF_SIZE=4096")
os.write(b, b"CHANGED=YES;WAIT_TYPE=WAIT_IN_SELECT;INFO_LVL=1;BUF_SIZE=65536")
print("armed", flush=True)
sys.stdin.readline()
p = select.poll()
p.register(a, select.POLLIN)
p.register(b, select.POLLIN)
ready = {fd for fd, ev in p.poll(5000) if ev & select.POLLIN}
assert ready == {a, b}, ready
for name, fd in (("A", a), ("B", b)):
    out = b""
    while True:
        try:
            chunk = os.read(fd, 65536)
        except BlockingIOError:
            break
        if not chunk:
            break
        out += chunk
    sys.stdout.write("%s\n%s" % (name, out.decode()))
sys.stdout.flush()
