"""The bottom layer: what every other layer shares and that imports nothing of moodline above it.

Modules::

    errors.py       the exception hierarchy, each error with its HTTP status
    settings.py     ``Settings`` (``MOODLINE_*`` variables and ``.env``), grouped by concern, and ``get_settings()``
    locations.py    where the embedded stores live (data directory, lifecycle database, MLflow, registry cache)
    texts.py        the rules for a scoreable text, for every caller
    extras.py       which extra brings an optional dependency, and the message when one is missing
    datafiles.py    CSV / TSV / JSONL / Parquet file formats, row readers, labelled data
    durable.py      writes that leave a file or directory complete or absent
    progress.py     progress bars that stay quiet under ``MOODLINE_NO_PROGRESS``
    spreadsheet.py  CSV cells a spreadsheet shows as text, never runs as a formula
    plots.py        matplotlib, loaded on first use
"""
