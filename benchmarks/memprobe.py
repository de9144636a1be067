"""Run a command and record its own peak resident memory: ``memprobe.py OUT -- CMD...``.

Why a separate small process: on Linux a process's ``ru_maxrss`` keeps the high-water
mark of the memory it had before ``execve``, and a child forked (or vforked) from the
benchmark process starts with the benchmark's whole resident set - every child would
report at least that. Forked from this small script instead, the command's figure is
its own (this script's few MiB being the floor). Standard library only; run it as a
file (``python -S``) so that it stays small.
"""

from __future__ import annotations

import json
import os
import sys


def main(argv: list[str]) -> int:
    if len(argv) < 3 or argv[1] != "--":
        print(__doc__, file=sys.stderr)
        return 2
    out, command = argv[0], argv[2:]
    pid = os.fork()
    if pid == 0:
        try:
            os.execvp(command[0], command)
        finally:
            os._exit(127)
    _, status, usage = os.wait4(pid, 0)
    with open(out, "w") as handle:
        # Linux reports ru_maxrss in KiB.
        json.dump(
            {"status": os.waitstatus_to_exitcode(status), "maxrss_kib": usage.ru_maxrss}, handle
        )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
