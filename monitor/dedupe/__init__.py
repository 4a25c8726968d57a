"""What makes two items "the same": canonical URLs, content fingerprints and the
story policy. Pure functions; storage runs the lookups they ask for."""

from monitor.dedupe.fingerprints import fingerprint, fingerprints, hamming, same_story, story_words
from monitor.dedupe.stories import HEADLINE_WINDOW, STORY_WINDOW, Story, StoryIndex
from monitor.dedupe.urls import canonical_url

__all__ = [
    "HEADLINE_WINDOW", "STORY_WINDOW", "Story", "StoryIndex", "canonical_url", "fingerprint", "fingerprints", "hamming",
    "same_story", "story_words",
]
