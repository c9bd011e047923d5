"""Run a command and report its own peak memory and time, as JSON on stderr's last line.

A child forked from a big process (pytest) inherits its RSS high-water mark
across exec, so the measure is taken from this small launcher instead.
Usage: python tests/measure.py COMMAND [ARGS...]
"""

import json
import os
import sys
import time

start = time.monotonic()
pid = os.fork()
if pid == 0:
    os.execvp(sys.argv[1], sys.argv[1:])
_, status, usage = os.wait4(pid, 0)
print(
    json.dumps({"maxrss_kb": usage.ru_maxrss, "seconds": time.monotonic() - start, "status": status}),
    file=sys.stderr,
)
sys.exit(os.waitstatus_to_exitcode(status))
