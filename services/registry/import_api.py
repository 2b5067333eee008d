"""HTTP endpoints of the registry's bulk import (see importing.py and imports.py).

A mixin of RegistryService, so that the import pipeline lives in its own modules.
"""


class ImportEndpoints:
    pass
