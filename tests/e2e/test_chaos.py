"""Chaos through the real server: five keys, four of them broken in different ways, a
thousand concurrent client requests. The clients must not notice, and the upstream's own
log must show that the pool never sent a call to a key that should not have had one.
"""

from __future__ import annotations

import random
import time
from collections import Counter

import openai
import pytest
import trio

from tests.e2e.conftest import KEYS, StartProxy
from trioproxy.decisions import AttemptRecord, DecisionLog
from trioproxy.pool.reset import seconds_until_daily_reset

REQUESTS = 1000
CONCURRENCY = 20
MINUTE_DELAY = 2.0
GENERATE = "*enerateContent"  # generateContent and streamGenerateContent


async def test_a_thousand_requests_over_a_pool_where_most_keys_misbehave(
    start_proxy: StartProxy,
) -> None:
    proxy = await start_proxy(
        ("key-a", "key-b", "key-c", "key-d", "key-e"),
        gateway={"first_byte_timeout": 3, "breaker_backoff": 1, "probe_timeout": 1},
    )
    faults = proxy.sim.faults
    minute, daily, failing, hung = (KEYS[k] for k in ("key-a", "key-b", "key-c", "key-d"))
    faults.add("rate_limit_minute", key=minute, retry_delay=f"{MINUTE_DELAY}s", times=None)
    faults.add("rate_limit_day", key=daily, times=None)
    faults.add("overloaded", key=failing, rpc=GENERATE, times=None)  # probes still pass
    faults.add("hang", key=hung, times=None)  # probes hang too
    dispatcher = proxy.app.gateway.dispatcher
    dispatcher.decisions = DecisionLog(size=REQUESTS * 2)

    client = proxy.client()
    outcomes: Counter[str] = Counter()
    order = random.Random(3)
    streaming = [order.random() < 0.2 for _ in range(REQUESTS)]
    limit = trio.CapacityLimiter(CONCURRENCY)

    async def one(index: int) -> None:
        async with limit:
            messages = [{"role": "user", "content": f"request {index}"}]
            try:
                if streaming[index]:
                    stream = await client.chat.completions.create(
                        model="gemini-2.5-flash", messages=messages, stream=True
                    )
                    text = "".join([c.choices[0].delta.content or "" async for c in stream])
                else:
                    response = await client.chat.completions.create(
                        model="gemini-2.5-flash", messages=messages
                    )
                    text = response.choices[0].message.content or ""
            except openai.APIError as error:
                outcomes[f"error {type(error).__name__}"] += 1
            else:
                outcomes["ok" if f"request {index}" in text else "wrong answer"] += 1

    started = time.monotonic()
    async with trio.open_nursery() as nursery:
        for index in range(REQUESTS):
            nursery.start_soon(one, index)
    elapsed = time.monotonic() - started
    await client.close()

    # 1. The clients did not notice.
    success = outcomes["ok"] / REQUESTS
    print(f"chaos: {outcomes} in {elapsed:.1f}s, success {success:.2%}")
    assert success >= 0.99, outcomes

    attempts = [a for d in dispatcher.decisions.recent() for a in d.attempts]
    by_key: dict[str, list[AttemptRecord]] = {name: [] for name in KEYS}
    for attempt in attempts:
        by_key[attempt.key].append(attempt)

    # 2. The proxy's account of its calls matches what the upstream saw, key by key.
    for name, secret in KEYS.items():
        seen = proxy.sim.count(key=secret, rpc="generateContent") + proxy.sim.count(
            key=secret, rpc="streamGenerateContent"
        )
        assert seen == len(by_key[name]), name

    # 3. No call went to the per-minute key inside one of its cooldowns.
    cooldowns = [a.ended for a in by_key["key-a"] if a.outcome == "rate_limited"]
    assert cooldowns
    inside = [
        a
        for a in by_key["key-a"]
        for start in cooldowns
        if start is not None and start < a.started < start + MINUTE_DELAY
    ]
    assert inside == []
    print(f"chaos: key-a answered 429 {len(cooldowns)} times; calls inside a cooldown: 0")

    # 4. The per-day key: only the calls already on their way when its first 429 came
    # back; then nothing until the Pacific midnight.
    first_429 = min(a.ended or 0 for a in by_key["key-b"] if a.outcome == "rate_limited")
    assert all(a.started < first_429 for a in by_key["key-b"])
    key_b = proxy.app.gateway.pool.by_name["key-b"]
    [cooling] = key_b.cooldowns.snapshot(trio.current_time())["gemini-2.5-flash"]
    assert cooling.per_day
    assert cooling.until - trio.current_time() == pytest.approx(
        seconds_until_daily_reset(time.time()), abs=120
    )

    # 5. The hung key's calls were cancelled at the attempt deadline, never earlier.
    assert by_key["key-d"]
    assert all(a.ended is not None and a.ended - a.started >= 3.0 for a in by_key["key-d"])
    hung_calls = proxy.sim.select(key=hung, rpc="generateContent") + proxy.sim.select(
        key=hung, rpc="streamGenerateContent"
    )
    assert len(hung_calls) == len(by_key["key-d"])
    assert all(r.cancelled and r.done for r in hung_calls)

    # 7. Every lent key was given back, streams included (a probe may still be out on
    # the hung key).
    pool = proxy.app.gateway.pool
    assert [k.inflight for k in pool.keys if k.name != "key-d"] == [0, 0, 0, 0]
    assert pool.by_name["key-d"].inflight <= 1

    # 6. The failing key's breaker stopped most traffic to it, although its probes pass
    # (the breaker backs off further each round until a real call succeeds).
    print(
        f"chaos: calls to the failing key {len(by_key['key-c'])}, to the hung key "
        f"{len(by_key['key-d'])}, probes {proxy.app.prober.probes}"
    )
    # Without it, round robin would send it about a third of all the requests.
    assert len(by_key["key-c"]) < REQUESTS / 20
