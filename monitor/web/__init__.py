"""The read-only web interface: matches, feed health, Atom feed, health and metrics."""
