"""``python -m cdht_tools.generator``: write a synthetic province (see command.py)."""
import sys

from cdht_tools.generator.command import main

sys.exit(main())
