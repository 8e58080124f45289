"""Moved to `ad_magic.classroom.annotate`; this path keeps working."""

from ad_magic.classroom.annotate import annotate

__all__ = ["annotate"]
