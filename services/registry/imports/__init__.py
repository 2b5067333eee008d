"""Bulk imports into the registry: a commune's spreadsheet of people, or of groups with their
members and titles, from CSV or XLSX, over HTTP (api.py) or the command line (cli.py).

    layout.py         the people file's columns and labels (the generator writes it too)
    files.py          the file: format, header row, rows, cells; the error report
    people_rows.py    a people row checked: a record to upsert, or its errors
    group_rows.py     a groups row checked, the same
    runner.py         the chunk loop, jobs, progress and counts (ONE loop for both kinds)
    people.py         a chunk of people written: COPY, upsert, people_imported
    groups.py         a chunk of groups written: groups, memberships, titles, their events
    chunks.py         what both writers share: COPY, the advisory lock, the unit tree
    models.py         the jobs' and errors' tables
    background.py     imports run in the service's greenthreads; uploads stored
    api.py            the HTTP endpoints (a mixin of RegistryService)
    cli.py            ``cdht import people|groups FILE``
"""

