"""Grooming signals: events counted per account in sliding windows, crossings detected once.

The middleware builds `Event`s and hands them to a `SignalRecorder`, which writes them off
the request path to a `SignalStore` (Redis, Redis Cluster, or in-process) and passes each
`Crossing` on to the alerts layer. See docs/signals.md.
"""

from .backends import signal_store_for
from .crossing import Crossing, window_key
from .events import Event
from .evidence import EvidenceItem
from .plan import CountSpec, Observation, RateSpec, SignalPlan
from .pseudonyms import Pseudonyms
from .recorder import SignalRecorder
from .store import SignalStore

__all__ = [
    "CountSpec",
    "Crossing",
    "Event",
    "EvidenceItem",
    "Observation",
    "Pseudonyms",
    "RateSpec",
    "SignalPlan",
    "SignalRecorder",
    "SignalStore",
    "signal_store_for",
    "window_key",
]
