"""Client-side limits for API models: requests and tokens per minute, and a concurrency that
backs off when the server says 429 and recovers when it stops.

Both live on the model's event loop (not thread-safe by design: one loop per model).
"""

from __future__ import annotations

import asyncio
import time
from collections import deque

from derm_stress.errors import InvalidArgument


class Pacer:
    """Spaces request starts so that at most ``rpm`` requests and ``tpm`` tokens begin in
    any minute: each request reserves the next free start time, ``60 / rpm`` seconds after
    the previous one (and ``60 * tokens / tpm`` for its tokens). Even spacing, with no
    burst, is what keeps a sliding one-minute window within the limit (a token bucket that
    starts full would allow a minute's worth at once plus the refill)."""

    def __init__(self, rpm: float | None = None, tpm: float | None = None) -> None:
        for name, value in (("rpm", rpm), ("tpm", tpm)):
            if value is not None and (isinstance(value, bool) or not value > 0):
                raise InvalidArgument(f"{name} must be a positive number, got {value!r}")
        self.rpm = rpm
        self.tpm = tpm
        self._next = 0.0  # monotonic time at which the next request may start

    @property
    def active(self) -> bool:
        return self.rpm is not None or self.tpm is not None

    def reserve(self, tokens: int, now: float | None = None) -> float:
        """Book a start for a request of ``tokens``; returns how long to wait for it."""
        now = time.monotonic() if now is None else now
        start = max(now, self._next)
        step = 0.0
        if self.rpm is not None:
            step = max(step, 60.0 / self.rpm)
        if self.tpm is not None:
            step = max(step, 60.0 * tokens / self.tpm)
        self._next = start + step
        return start - now

    async def wait(self, tokens: int) -> None:
        delay = self.reserve(tokens)
        if delay > 0:
            await asyncio.sleep(delay)


class AdaptiveLimit:
    """At most ``limit`` requests at once, ``limit`` between 1 and ``maximum``.

    A 429 halves it (once per round of requests: the 429s of requests already in flight
    when it was halved do not halve it again); every ``limit`` successes in a row raise it
    by one, back up to ``maximum`` (additive increase, multiplicative decrease)."""

    def __init__(self, maximum: int) -> None:
        if maximum < 1:
            raise InvalidArgument(f"max_concurrency must be >= 1, got {maximum!r}")
        self.maximum = maximum
        self.limit = maximum
        self.lowest = maximum
        self.active = 0
        self._waiters: deque[asyncio.Future[None]] = deque()
        self._successes = 0
        self._epoch = 0  # bumped at each decrease
        self.backoffs = 0

    def epoch(self) -> int:
        return self._epoch

    async def acquire(self) -> int:
        """Wait for a slot; returns the epoch the request started in."""
        while self.active >= self.limit:
            waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            self._waiters.append(waiter)
            try:
                await waiter
            except asyncio.CancelledError:
                if waiter in self._waiters:
                    self._waiters.remove(waiter)
                raise
        self.active += 1
        return self._epoch

    def release(self) -> None:
        self.active -= 1
        self._wake()

    def _wake(self) -> None:
        free = self.limit - self.active
        while free > 0 and self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)
                free -= 1

    def rate_limited(self, epoch: int) -> None:
        """A request started in ``epoch`` got a 429."""
        self._successes = 0
        if epoch != self._epoch:  # already halved since that request started
            return
        self._epoch += 1
        self.limit = max(1, self.limit // 2)
        self.lowest = min(self.lowest, self.limit)
        self.backoffs += 1

    def succeeded(self) -> None:
        if self.limit >= self.maximum:
            return
        self._successes += 1
        if self._successes >= self.limit:
            self._successes = 0
            self.limit += 1
            self._wake()
