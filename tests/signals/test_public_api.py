"""The signals package's public surface is what we mean it to be, and no more."""

import pytest

import safe_accounts.signals as signals


def test_public_names() -> None:
    assert sorted(signals.__all__) == [
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
    assert all(hasattr(signals, name) for name in signals.__all__)


def test_the_store_factory_picks_the_backend_from_the_url() -> None:
    from safe_accounts.errors import ConfigurationError
    from safe_accounts.signals.memory import InProcessSignalStore
    from safe_accounts.signals.redis_store import RedisSignalStore

    assert isinstance(signals.signal_store_for(None), InProcessSignalStore)
    assert isinstance(signals.signal_store_for("redis://127.0.0.1:6379/0"), RedisSignalStore)
    with pytest.raises(ConfigurationError, match="must start with redis://"):
        signals.signal_store_for("memcached://x")
    with pytest.raises(ConfigurationError, match="at least 16 bytes"):
        signals.signal_store_for(None, pseudonym_key=b"short")
