"""Batch scoring of large files: streaming, resumable on one machine, or on a Ray cluster.

Example::

    from moodline.scoring import ScoreOptions, score_file
    score_file(Path("reviews.csv"), Path("scored.parquet"), Engine.load(), ScoreOptions(text_column="review"))
"""

from __future__ import annotations

from moodline.scoring.formats import FORMATS, TableReader, detect_format
from moodline.scoring.job import ScoreOptions, ScoreSummary, score_file, work_directory

__all__ = ["FORMATS", "ScoreOptions", "ScoreSummary", "TableReader", "detect_format", "score_file", "work_directory"]
