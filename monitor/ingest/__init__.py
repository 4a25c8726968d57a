"""Sources of Items: feed documents fetched over HTTP and fixture files replayed from disk.

Both end in the same `Item`; after this package nothing knows where an item
came from.
"""

from monitor.ingest.feed import FeedError, ParsedFeed, parse_feed
from monitor.ingest.files import FixtureError, iter_fixture_paths, load_fixture, read_fixture
from monitor.ingest.textfile import parse_text

__all__ = [
    "FeedError",
    "FixtureError",
    "ParsedFeed",
    "iter_fixture_paths",
    "load_fixture",
    "parse_feed",
    "parse_text",
    "read_fixture",
]
