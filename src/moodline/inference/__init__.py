"""Text in, predictions out: the engine and everything it needs to load and run a model.

Modules::

    engine.py        ``Engine``: tokenization, length bucketing, truncation or chunking, softmax
    backends/        ONNX Runtime (default) and transformers: padded token ids -> logits
    tokenization.py  fast tokenizers, padding, windows of long texts
    bucketing.py     cutting a batch sorted by length into the cheapest engine calls
    prediction.py    ``Prediction``, the result every scorer returns
    model_dir.py     a model directory's file names (moodline.json, model.onnx, ...) and metadata
    sources.py       where a model name points: bundled, directory, packaged base, hub id, ``models:/``
    registry.py      reading the MLflow model registry: the one place ``models:/`` URIs are understood
    three_way.py     negative / neutral / positive from any model, and the two-way view of a 3-label one
    analyzer.py      ``Analyzer``, the Python entry point
"""
