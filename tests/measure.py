"""Peak memory of programs the tests run, measured without pytest's own.

Linux keeps a forked child's peak resident memory across ``exec``: ``ru_maxrss`` of a
program forked from a pytest that holds a gigabyte says a gigabyte, whatever the program
did. So a program is forked from a small launcher instead, and a process that measures
itself reads ``VmHWM``, which starts afresh at ``exec``.
"""

from __future__ import annotations

import json
import resource
import sys
from pathlib import Path

#: Runs the command under an address-space and a file-size limit and writes its exit
#: status and peak memory (``wait4``) as JSON to the file named first.
LAUNCHER = """
import json, os, resource, sys
report, limit_as, limit_fsize, *command = sys.argv[1:]
pid = os.fork()
if pid == 0:
    resource.setrlimit(resource.RLIMIT_AS, (int(limit_as), int(limit_as)))
    resource.setrlimit(resource.RLIMIT_FSIZE, (int(limit_fsize), int(limit_fsize)))
    os.execv(command[0], command)
_, status, usage = os.wait4(pid, 0)
with open(report, "w") as out:
    json.dump([os.waitstatus_to_exitcode(status), usage.ru_maxrss * 1024], out)
"""


def launched(
    command: list[str], report: Path, *, memory: int, file_size: int = resource.RLIM_INFINITY
) -> list[str]:
    """``command`` wrapped in :data:`LAUNCHER`, with its limits and its report file."""
    return [
        sys.executable,
        "-S",
        "-c",
        LAUNCHER,
        str(report),
        str(memory),
        str(file_size),
        *command,
    ]


def launch_report(report: Path) -> tuple[int, int]:
    """The launched command's exit status and peak memory in bytes; (-9, 0) if it was killed."""
    if not report.exists():
        return -9, 0
    status, peak = json.loads(report.read_text())
    return int(status), int(peak)


#: Python that prints nothing and binds ``own_peak_rss()`` in a child process's script.
OWN_PEAK_RSS = """
def own_peak_rss():
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError("no VmHWM")
"""
