"""Campaign data and its persistence: the hand-edited config and the machine-written state.

This package imports neither `logcache` nor `tui` (an import-linter contract enforces it).
"""
