"""Window functions as PS3.3 C.11.2 states them, for any window: brighter never becomes darker, the
ends are black and white, and bad window parameters are refused with a reason."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from consumers.image_archive.render import FUNCTIONS, RenderError, Window, apply_window, parse_window

centers = st.floats(-4000, 4000, allow_nan=False)
widths = st.floats(1, 8000, allow_nan=False)


@given(centers, widths, st.sampled_from(FUNCTIONS))
def test_windows_are_monotonic_and_reach_black_and_white(center: float, width: float, function: str) -> None:
    window = Window(center, width, function)  # type: ignore[arg-type]
    values = np.linspace(center - 4 * width - 10, center + 4 * width + 10, 513)
    out = apply_window(values, window)
    assert out.dtype == np.uint8 and np.all(np.diff(out.astype(int)) >= 0)
    assert out[0] <= 1 and out[-1] >= 254  # sigmoid only comes within a step of the ends


@given(centers, widths)
def test_parse_reads_what_it_is_given(center: float, width: float) -> None:
    window = parse_window(f"{center!r},{width!r},linear-exact")
    assert (window.center, window.width, window.function) == (center, width, "linear-exact")


@pytest.mark.parametrize("text", ["", "40", "40,", ",400", "40;400", "40,400,linear,1", "nan,400", "40,inf",
                                  "40,0.5", "40,-1,sigmoid", "1e999,400"])
def test_bad_windows_are_refused(text: str) -> None:
    with pytest.raises(RenderError) as refused:
        parse_window(text)
    assert refused.value.status == 400 and "window" in str(refused.value)
