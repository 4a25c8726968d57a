"""press-monitor: watch diplomatic press feeds, classify items, alert analysts."""

__version__ = "0.1.0"
