"""Run an external command so that everything it starts ends with the toolkit, kill -9 included.

    python -m inpaint_core.supervise PARENT_PID -- COMMAND [ARG ...]

The toolkit starts this supervisor in a session of its own (``start_new_session=True``), so the supervisor
leads a process group, and the command it starts -- and whatever the command starts in turn (``conda run``
starting ``python``, a shell starting a pipeline) -- is in that group. The supervisor asks the kernel to
signal it when ``PARENT_PID`` dies (:func:`inpaint_core.processes.die_with_parent` with ``whole_group``) and
then ends the whole group, so no grandchild outlives a harness killed with SIGKILL; a plain
``PR_SET_PDEATHSIG`` on the command itself reaches only the command. The supervisor exits with the
command's status (128 + N when the command died of signal N; 127 when it cannot be started).

Build the argument list with :func:`inpaint_core.processes.supervised`.
"""
from __future__ import annotations

import subprocess
import sys

from .processes import die_with_parent


def main(argv: list[str]) -> int:
    if len(argv) < 3 or argv[1] != "--" or not argv[0].isdigit():
        print("usage: python -m inpaint_core.supervise PARENT_PID -- COMMAND [ARG ...]", file=sys.stderr)
        return 2
    die_with_parent(int(argv[0]), whole_group=True)
    try:
        process = subprocess.Popen(argv[2:])
    except OSError as exc:
        print(f"cannot run command: {exc}", file=sys.stderr)
        return 127
    status = process.wait()
    return 128 - status if status < 0 else status


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
