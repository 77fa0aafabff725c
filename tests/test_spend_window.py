"""The project's spend window (Google's spend-based limit): its memory is bounded by time,
not by the call rate, and it never frees spend before the calls' own times would."""

from __future__ import annotations

from flashfirst.inference.project_limits import SPEND_BUCKET_S, SpendWindow


def test_a_high_rate_keeps_one_entry_a_second_and_frees_no_earlier_than_per_call() -> None:
    window = SpendWindow(limit_usd=5.0, window_s=600.0)
    calls = [(i * 0.001, 0.001) for i in range(10_000)]  # 10 s at 60,000 RPM, $10 in all
    for now, usd in calls:
        with window.lock:
            window.expire(now)
            window.charge(now, usd)
    assert len(window.entries) <= 10 / SPEND_BUCKET_S + 1
    assert abs(window.total - 10.0) < 1e-9
    # $5 over the limit: per call, it frees when the 5,000th call leaves the window.
    per_call = calls[4_999][0] + 600.0
    with window.lock:
        free_at = window.free_at(0.0005)
    assert free_at is not None and per_call <= free_at <= per_call + SPEND_BUCKET_S


def test_a_refused_call_gives_its_estimate_back_and_a_priced_one_corrects_it() -> None:
    window = SpendWindow(limit_usd=1.0)
    with window.lock:
        first = window.charge(0.0, 0.4)
        second = window.charge(0.2, 0.4)
    assert first is second  # the same second: one bucket
    window.adjust(first, -0.4)  # refused (429): no spend
    window.adjust(second, 0.1 - 0.4)  # answered: its real price
    assert abs(window.total - 0.1) < 1e-12
    with window.lock:
        assert window.free_at(0.9) is None  # $0.1 + $0.9 fits the $1 limit
        assert window.free_at(0.95) == 600.2  # frees with the bucket's latest call
