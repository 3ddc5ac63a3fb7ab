"""PyInstaller's entry script for the ``hearth-cli`` executable.

The CLI's engine client starts its worker as ``<this executable> --engine-worker``
(engine.runtime.client.worker_command), so that flag is dispatched here before the CLI parses
its arguments.
"""

import sys

if __name__ == "__main__":
    if sys.argv[1:2] == ["--engine-worker"]:
        from engine.runtime.worker import main as worker_main

        sys.exit(worker_main())
    if sys.argv[1:2] == ["--pdf-text"]:  # engine.tasks.pdf_text.child_command, frozen
        from engine.tasks.pdf_text import main as pdf_text_main

        sys.exit(pdf_text_main(sys.argv[2:]))
    from engine.cli import main

    sys.exit(main())
