"""The ``AWS_LAMBDA_EXEC_WRAPPER`` entry: ``PYTHON _wrapper.py SCRIPT ARGS...``.

The layer's wrapper script (``/opt/lambda-shutdown-hook``) runs this file with
the interpreter and the arguments Lambda gave it. It switches the hook on
(needed where no ``.pth`` file is processed, e.g. when the function sets
PYTHONPATH and the bootstrap skips the layer's site directories), then runs
SCRIPT as ``python SCRIPT ARGS...`` would.
"""

import os
import runpy
import sys


def main() -> None:
    here = os.path.dirname(os.path.abspath(__file__))
    # Running a file puts its own folder first on sys.path; the package's parent instead.
    sys.path[0] = os.path.dirname(here)
    import lambda_shutdown_hook

    lambda_shutdown_hook.activate(via="wrapper")
    if len(sys.argv) < 2:
        sys.stderr.write("usage: PYTHON _wrapper.py SCRIPT [ARGS...]\n")
        sys.exit(2)
    script = sys.argv[1]
    sys.argv = sys.argv[1:]
    sys.path[0] = os.path.dirname(os.path.abspath(script))
    runpy.run_path(script, run_name="__main__")


if __name__ == "__main__":
    main()
