"""How many examples each fuzz test tries: small by default, so the fuzz tests take about a minute.

``MAILTRAP_FUZZ_SCALE=20`` multiplies every budget (a longer hunt); ``MAILTRAP_FUZZ_RANDOM=1`` draws new
examples each run instead of the same deterministic ones.
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

SCALE = float(os.environ.get("MAILTRAP_FUZZ_SCALE", "1"))

settings.register_profile(
    "mailtrap-fuzz",
    derandomize=os.environ.get("MAILTRAP_FUZZ_RANDOM", "") != "1",
    database=None,
    # Two shared cores: timing is no property of these tests, and a slow example is not a failure.
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    print_blob=True,
)


def examples(count: int) -> settings:
    """Settings for a test that tries ``count`` examples (times MAILTRAP_FUZZ_SCALE)."""
    return settings(settings.get_profile("mailtrap-fuzz"), max_examples=max(1, round(count * SCALE)))
