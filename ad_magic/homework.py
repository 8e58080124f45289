"""Moved to `ad_magic.classroom.homework`; this path keeps working."""

from ad_magic.classroom.homework import HIDDEN, Concealment, concealment, homework_lines

__all__ = ["HIDDEN", "Concealment", "concealment", "homework_lines"]
