"""The credential cache (b24tel.rest.authcache): requests that miss together share one
lookup; an entry near its end is looked up again in the background while it is served;
nothing is served past its lifetime or put back after a clear."""

from __future__ import annotations

import asyncio

import pytest

from b24tel import errors
from b24tel.clock import FakeClock
from b24tel.errors import ApiError
from b24tel.identity import Caller
from b24tel.rest.authcache import AuthCache

KEY = ("w", "1", "code")
CALLER = Caller(user_id=1, kind="webhook", scopes=frozenset({"telephony"}))


class Directory:
    """A credential store that answers when told to, and counts its lookups."""

    def __init__(self) -> None:
        self.lookups = 0
        self.revoked = False
        self.away = False
        self.gate = asyncio.Event()
        self.gate.set()

    async def lookup(self) -> Caller:
        self.lookups += 1
        await self.gate.wait()
        if self.away:
            raise errors.database_unavailable()
        if self.revoked:
            raise errors.invalid_credentials()
        return CALLER


async def settle() -> None:
    """Let the loop run what is ready (a lookup started in the background)."""
    for _ in range(5):
        await asyncio.sleep(0)


async def aged(seconds: float) -> tuple[FakeClock, AuthCache, Directory]:
    """A cache (TTL 5 s) holding the caller for ``seconds``."""
    clock = FakeClock()
    cache, store = AuthCache(clock, 5.0), Directory()
    await cache.resolve(KEY, store.lookup)
    clock.advance(seconds)
    return clock, cache, store


async def test_requests_that_miss_together_share_one_lookup() -> None:
    cache, store = AuthCache(FakeClock(), 5.0), Directory()
    store.gate.clear()
    waiting = [asyncio.ensure_future(cache.resolve(KEY, store.lookup)) for _ in range(8)]
    await asyncio.sleep(0)
    store.gate.set()
    assert await asyncio.gather(*waiting) == [CALLER] * 8
    assert store.lookups == 1
    assert await cache.resolve(KEY, store.lookup) == CALLER and store.lookups == 1


async def test_an_entry_near_its_end_is_looked_up_while_it_is_served() -> None:
    clock, cache, store = await aged(4.5)  # in the last fifth of its life
    store.gate.clear()
    assert await cache.resolve(KEY, store.lookup) == CALLER  # served, not waiting
    await settle()
    assert store.lookups == 2
    store.gate.set()
    await settle()
    clock.advance(4.0)  # past the first entry's end, within the fresh one's
    assert await cache.resolve(KEY, store.lookup) == CALLER and store.lookups == 2


async def test_a_credential_revoked_meanwhile_is_not_served_after_the_lookup() -> None:
    _, cache, store = await aged(4.5)
    store.revoked = True
    assert await cache.resolve(KEY, store.lookup) == CALLER  # still within its TTL
    await settle()  # the background lookup found it revoked
    with pytest.raises(ApiError) as raised:
        await cache.resolve(KEY, store.lookup)
    assert raised.value.code == "INVALID_CREDENTIALS"


async def test_a_database_away_for_a_moment_is_not_a_revocation() -> None:
    clock, cache, store = await aged(4.5)
    store.away = True
    assert await cache.resolve(KEY, store.lookup) == CALLER
    await settle()  # the background lookup met a 503
    clock.advance(0.3)
    assert await cache.resolve(KEY, store.lookup) == CALLER  # served out its TTL


async def test_nothing_is_served_past_the_ttl() -> None:
    _, cache, store = await aged(5.1)
    store.revoked = True
    with pytest.raises(ApiError):
        await cache.resolve(KEY, store.lookup)


async def test_a_lookup_begun_before_a_clear_does_not_put_its_answer_back() -> None:
    cache, store = AuthCache(FakeClock(), 5.0), Directory()
    store.gate.clear()
    first = asyncio.ensure_future(cache.resolve(KEY, store.lookup))
    await asyncio.sleep(0)
    cache.clear()  # a revocation heard meanwhile
    store.gate.set()
    assert await first == CALLER  # the request that asked before it
    assert cache.get(KEY) is None
    await cache.resolve(KEY, store.lookup)
    assert store.lookups == 2


async def test_a_request_cut_short_does_not_cancel_the_others_lookup() -> None:
    cache, store = AuthCache(FakeClock(), 5.0), Directory()
    store.gate.clear()
    cut = asyncio.ensure_future(cache.resolve(KEY, store.lookup))
    other = asyncio.ensure_future(cache.resolve(KEY, store.lookup))
    await asyncio.sleep(0)
    cut.cancel()
    store.gate.set()
    assert await other == CALLER and store.lookups == 1
    assert cut.cancelled()


async def test_without_a_cache_every_request_looks_up() -> None:
    cache, store = AuthCache(FakeClock(), 0), Directory()
    for _ in range(3):
        await cache.resolve(KEY, store.lookup)
    assert store.lookups == 3
