"""What one worker holds while it runs: stores, writers and the signals pipeline.

`worker.py` opens and closes them; `signals_wiring.py` plugs the grooming-signal
pipeline (signals, alerts, restrictions, delivery) into a running worker.
"""

from .worker import EventSink, Runtime, SignalsFactory, open_runtime

__all__ = ["EventSink", "Runtime", "SignalsFactory", "open_runtime"]
