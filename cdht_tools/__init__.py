"""CDHT's operator and developer tooling, apart from the services and their shared package.

- ``cdht_tools.cli``: the ``cdht`` command line (``python -m cdht_tools``).
- ``cdht_tools.local``: the four services as local processes (bin/up without Docker).
- ``cdht_tools.demo``: ``cdht seed demo``, a small province made over the HTTP APIs.
- ``cdht_tools.deadletters``: list and replay dead-lettered messages.
- ``cdht_tools.places`` / ``cdht_tools.names``: An Giang's units and Vietnamese names.
- ``cdht_tools.generator``: the synthetic province for tests and benchmarks (not in the
  production image; see deploy/Dockerfile and .dockerignore).

The services never import this package; it imports theirs (``cdht`` imports neither).
"""
