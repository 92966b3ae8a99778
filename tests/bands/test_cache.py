"""The in-process band cache: bounded, expiring, and never late for a birthday."""

from __future__ import annotations

from datetime import UTC, date, datetime

from safe_accounts.bands.age import AgeBand, Assurance, BandRecord, unknown
from safe_accounts.bands.cache import BandCache
from safe_accounts.clock import FrozenClock
from safe_accounts.policy.model import BandCacheSettings

DAY = 86_400.0


def adult(account_id: str) -> BandRecord:
    return BandRecord(account_id, AgeBand.ADULT, Assurance.VERIFIED, "test", None, 1.0)


def test_a_put_record_is_served_back() -> None:
    cache = BandCache(BandCacheSettings(size=10, ttl_seconds=60), FrozenClock())
    cache.put(adult("a"))
    assert cache.get("a") == adult("a")
    assert cache.get("b") is None


def test_an_unknown_account_is_cached_as_unknown() -> None:
    cache = BandCache(BandCacheSettings(size=10, ttl_seconds=60), FrozenClock())
    cache.put_unknown("nobody")
    hit = cache.get("nobody")
    assert hit is not None
    assert (hit.account_id, hit.band) == ("nobody", AgeBand.UNKNOWN)


def test_a_cached_unknown_account_reads_back_one_unknown_record() -> None:
    # A search page full of accounts without a record reads them on every request.
    cache = BandCache(BandCacheSettings(size=10, ttl_seconds=60), FrozenClock())
    cache.put_unknown("nobody")
    first, second = cache.get("nobody"), cache.get("nobody")
    assert first == unknown("nobody")
    assert first is second


def test_a_page_of_accounts_is_read_as_get_reads_each() -> None:
    clock = FrozenClock(datetime(2027, 5, 31, 23, 0, tzinfo=UTC))
    cache = BandCache(BandCacheSettings(size=3, ttl_seconds=2 * 3600), clock)
    cache.put(adult("a"))
    cache.put(BandRecord("teen", AgeBand.B16_17, Assurance.VERIFIED, "test", date(2009, 6, 1), 1.0))
    cache.put_unknown("nobody")
    assert cache.get_all([]) == []
    clock.advance(3600)  # the teen's 18th birthday
    read = cache.get_all(["nobody", "teen", "a"])
    assert read is not None
    assert [(r.account_id, r.band) for r in read] == [
        ("nobody", AgeBand.UNKNOWN), ("teen", AgeBand.ADULT), ("a", AgeBand.ADULT)
    ]
    assert cache.get_all(["a", "never-cached"]) is None
    clock.advance(3600)  # the TTL
    assert cache.get_all(["a"]) is None and "a" not in cache


def test_reading_a_page_uses_its_accounts_in_order() -> None:
    cache = BandCache(BandCacheSettings(size=3, ttl_seconds=60), FrozenClock())
    for name in "abc":
        cache.put(adult(name))
    assert cache.get_all(["c", "a", "b"]) is not None  # "c" is now the least recently used
    cache.put(adult("d"))
    assert "c" not in cache and all(name in cache for name in "abd")


def test_entries_expire_after_the_ttl() -> None:
    clock = FrozenClock()
    cache = BandCache(BandCacheSettings(size=10, ttl_seconds=60), clock)
    cache.put(adult("a"))
    cache.put_unknown("b")
    clock.advance(59.9)
    assert cache.get("a") is not None and cache.get("b") is not None
    clock.advance(0.1)
    assert cache.get("a") is None and cache.get("b") is None
    assert len(cache) == 0


def test_the_least_recently_used_entry_goes_first() -> None:
    cache = BandCache(BandCacheSettings(size=3, ttl_seconds=60), FrozenClock())
    for name in "abc":
        cache.put(adult(name))
    assert cache.get("a") is not None  # "a" is now the most recently used
    cache.put(adult("d"))
    assert "b" not in cache
    assert all(name in cache for name in "acd")
    assert len(cache) == 3


def test_a_cached_band_moves_on_at_midnight_of_the_birthday() -> None:
    clock = FrozenClock(datetime(2027, 5, 31, 23, 0, tzinfo=UTC))
    cache = BandCache(BandCacheSettings(size=10, ttl_seconds=10 * DAY), clock)
    cache.put(BandRecord("teen", AgeBand.B16_17, Assurance.VERIFIED, "test", date(2009, 6, 1), 1.0))
    assert cache.get("teen").band is AgeBand.B16_17  # type: ignore[union-attr]
    clock.advance(3600)  # 2027-06-01 00:00 UTC: the 18th birthday
    moved = cache.get("teen")
    assert moved is not None
    assert (moved.band, moved.birth_date, moved.assurance) == (
        AgeBand.ADULT,
        None,
        Assurance.VERIFIED,
    )


def test_an_expired_entry_is_gone_even_when_a_birthday_passed_too() -> None:
    clock = FrozenClock(datetime(2027, 5, 31, 23, 0, tzinfo=UTC))
    cache = BandCache(BandCacheSettings(size=10, ttl_seconds=2 * 3600), clock)
    cache.put(BandRecord("teen", AgeBand.B16_17, Assurance.VERIFIED, "test", date(2009, 6, 1), 1.0))
    clock.advance(3600)  # the birthday: moved on, still cached
    assert cache.get("teen").band is AgeBand.ADULT  # type: ignore[union-attr]
    clock.advance(3600)  # the TTL: gone, whatever the band
    assert cache.get("teen") is None
    assert "teen" not in cache


def test_a_record_read_after_a_birthday_moves_on_once_and_stays_moved() -> None:
    clock = FrozenClock(datetime(2027, 5, 31, 23, 0, tzinfo=UTC))
    cache = BandCache(BandCacheSettings(size=10, ttl_seconds=10 * DAY), clock)
    cache.put(BandRecord("teen", AgeBand.B16_17, Assurance.VERIFIED, "test", date(2009, 6, 1), 1.0))
    clock.advance(2 * DAY)
    moved = cache.get("teen")
    assert moved is not None and moved.band is AgeBand.ADULT
    assert cache.get("teen") is moved  # an adult's band changes no more: read as it is


def test_a_child_moves_through_every_band_while_cached() -> None:
    clock = FrozenClock(datetime(2020, 1, 1, tzinfo=UTC))
    cache = BandCache(BandCacheSettings(size=10, ttl_seconds=20 * 365 * DAY), clock)
    cache.put(
        BandRecord("kid", AgeBand.UNDER_13, Assurance.ESTIMATED, "test", date(2010, 3, 10), 1.0)
    )
    seen = []
    for year in range(2020, 2030):
        clock.set(datetime(year, 3, 10, tzinfo=UTC))
        seen.append(cache.get("kid").band)  # type: ignore[union-attr]
    assert (
        seen
        == [AgeBand.UNDER_13] * 3
        + [AgeBand.B13_15] * 3
        + [AgeBand.B16_17] * 2
        + [AgeBand.ADULT] * 2
    )


def test_discard_and_clear_forget_entries() -> None:
    cache = BandCache(BandCacheSettings(size=10, ttl_seconds=60), FrozenClock())
    for name in "abc":
        cache.put(adult(name))
    cache.discard("a")
    cache.discard("never-cached")
    assert "a" not in cache and len(cache) == 2
    cache.clear()
    assert len(cache) == 0
