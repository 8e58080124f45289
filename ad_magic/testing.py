"""Moved to `ad_magic.classroom.testing`; this path keeps working."""

from ad_magic.classroom.testing import (
    assert_grad,
    assert_matches_numeric,
    assert_student_grads,
    assert_value,
)

__all__ = ["assert_grad", "assert_matches_numeric", "assert_student_grads", "assert_value"]
