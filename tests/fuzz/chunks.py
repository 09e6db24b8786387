"""A Hypothesis strategy shared by the fuzz tests: the same bytes, cut into pieces at random points."""

from __future__ import annotations

import itertools

from hypothesis import strategies as st


@st.composite
def chunked(draw: st.DrawFn, data: bytes) -> list[bytes]:
    """``data`` split at random offsets (empty pieces included), so that ``b"".join`` gives it back."""
    cuts = sorted(draw(st.lists(st.integers(0, len(data)), max_size=12)))
    bounds = [0, *cuts, len(data)]
    return [data[a:b] for a, b in itertools.pairwise(bounds)]
