"""The HTTP endpoints, one module per resource.

Modules::

    predict.py        POST /predict, /batch_predict, /v1/models/{name}:predict
    conversations.py  POST /transcripts, WebSocket /live
    feedback.py       POST /feedback, GET /monitor
    health.py         GET /livez, /readyz, /info, /metrics
"""
