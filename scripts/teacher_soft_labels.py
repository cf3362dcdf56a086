"""Score a data mix's training rows with a teacher model and save its probabilities (soft labels).

The output is small (about 10 bytes per row, compressed) and is meant to be committed: `moodline train
--soft-labels FILE` then distills the teacher into a student without the teacher's weights
(moodline.training.distillation). By default the rows are those of the first epoch a student run
with `--seed` draws from the mix, which is what a one-epoch student needs; `--all-rows` scores every
training row of the mix, for longer runs.

    python scripts/teacher_soft_labels.py runs/teacher-mpnet --mix sentiment-3way-stage3 --seed 46 \\
        --output src/moodline/mixes/sentiment-3way-stage3.teacher.npz
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from moodline.inference.model_dir import HF_CONFIG_FILE
from moodline.training.distillation import SoftLabels, rows_to_label, teacher_probabilities
from moodline.training.mixture import DataMixture


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("teacher", type=Path, help="the teacher: a Hugging Face classifier directory (moodline train)")
    parser.add_argument("--mix", required=True, help="data mix whose training rows are scored")
    parser.add_argument("--data-root", default=None, help="where the mix's relative paths start")
    rows = parser.add_mutually_exclusive_group(required=True)
    rows.add_argument("--seed", type=int, help="score the rows of the first epoch a student with this seed draws")
    rows.add_argument("--all-rows", action="store_true", help="score every training row of the mix")
    parser.add_argument("--max-length", type=int, default=128)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--precision", choices=["fp32", "bf16"], default="bf16")
    parser.add_argument("--output", type=Path, required=True, help="the .npz file to write")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    mixture = DataMixture.load(args.mix, args.data_root)
    data = mixture.read_training()
    config = json.loads((args.teacher / HF_CONFIG_FILE).read_text())
    teacher_labels = [config["id2label"][str(i)] for i in range(len(config["id2label"]))]
    if teacher_labels != data.label_names:
        print(f"error: the teacher's labels {teacher_labels} differ from the mix's {data.label_names}", file=sys.stderr)
        return 2
    rows = rows_to_label(data, None if args.all_rows else args.seed)
    texts = [data.texts[i] for i in rows]
    started = time.perf_counter()
    probabilities = teacher_probabilities(
        args.teacher, texts, max_length=args.max_length, batch_size=args.batch_size, precision=args.precision
    )
    soft = SoftLabels.from_rows(
        data.label_names,
        [data.sources[data.source_of[i]].name for i in rows],
        texts,
        probabilities,
        about={
            "teacher": str(args.teacher),
            "mix": args.mix,
            "rows": "all" if args.all_rows else f"first epoch of seed {args.seed}",
            "seed": args.seed,
            "max_length": args.max_length,
            "precision": args.precision,
        },
    )
    soft.save(args.output)
    took = time.perf_counter() - started
    size = args.output.stat().st_size
    print(
        f"scored {len(rows):,} rows in {took:.0f}s; {len(soft):,} distinct rows written to {args.output} ({size:,} bytes)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
