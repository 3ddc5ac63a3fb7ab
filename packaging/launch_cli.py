"""PyInstaller's entry script for the ``hearth-cli`` executable.

The CLI's engine client starts its worker as ``<this executable> --engine-worker``
(engine.client.worker_command), so that flag is dispatched here before the CLI parses
its arguments.
"""

import sys

if __name__ == "__main__":
    if sys.argv[1:2] == ["--engine-worker"]:
        from engine.worker import main as worker_main

        sys.exit(worker_main())
    from engine.cli import main

    sys.exit(main())
