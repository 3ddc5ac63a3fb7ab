"""PyInstaller's entry script for the ``hearth`` executable (the app and its engine worker)."""

import sys

from desktop.app import main

if __name__ == "__main__":
    sys.exit(main())
