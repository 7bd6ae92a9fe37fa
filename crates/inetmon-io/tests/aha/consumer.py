"""A Python AHAFS consumer using select.poll.

    consumer.py PATH SPEC

Prints "armed" after the specification is accepted, then every read's
data until end of file. A refused write prints "write: EINVAL" and exits 3.
"""
import errno
import os
import select
import sys

path, spec = sys.argv[1], sys.argv[2]
fd = os.open(path, os.O_CREAT | os.O_RDWR, 0o600)
try:
    os.write(fd, spec.encode())
except OSError as e:
    print("write: " + errno.errorcode.get(e.errno, str(e.errno)), flush=True)
    sys.exit(3)
print("armed", flush=True)
p = select.poll()
p.register(fd, select.POLLIN)
while True:
    p.poll()
    data = os.read(fd, 8192)
    if not data:
        print("EOF", flush=True)
        break
    sys.stdout.write(data.decode())
    sys.stdout.flush()
