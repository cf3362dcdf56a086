"""Batch scoring of large files: streaming, resumable on one machine, or on a Ray cluster.

Example::

    from moodline.scoring import ScoreOptions, score_file
    score_file(Path("reviews.csv"), Path("scored.parquet"), Engine.load(), ScoreOptions(text_column="review"))
"""

from __future__ import annotations

from moodline.scoring.formats import TableReader
from moodline.scoring.job import ScoreOptions, ScoreSummary, score_file, work_directory

__all__ = ["ScoreOptions", "ScoreSummary", "TableReader", "score_file", "work_directory"]
