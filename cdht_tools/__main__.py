"""``python -m cdht_tools``: the same command line as the ``cdht`` console script (cli.py).

Run ``python -m cdht_tools --help``.
"""
import os
import sys

if next((a for a in sys.argv[1:] if not a.startswith("-")), None) == "rebuild":
    # The rebuild's RPC deadlines need eventlet's green hub, patched in before anything else
    # is imported (docs/architecture.md §D9): patched later, it trips over typer's pydantic.
    os.environ.setdefault("EVENTLET_TESTS", "1")
    import eventlet
    eventlet.monkey_patch()

from cdht_tools.cli import main

if __name__ == "__main__":
    sys.exit(main())
