"""Making and measuring models: data mixes, fine-tuning, evaluation, calibration, export, averaging.

Modules::

    mixture.py      data mixes (TOML): sources, label mappings, weights, dev sets
    trainer.py      ``TrainingArguments`` and ``Trainer``: fine-tuning with checkpoints and resume
    evaluation.py   accuracy, macro-F1, per-class scores, calibration error, throughput
    suite.py        every dev set of a mix in one table
    calibration.py  fitting the temperature stored with a model
    three_way.py    tuning a binary model's neutral band, and three-way evaluation
    export.py       Hugging Face model -> moodline ONNX directory (optionally int8), checked for agreement
    averaging.py    weight averaging of fine-tuned models ("model soup")

torch and transformers load only when a function needs them.
"""
