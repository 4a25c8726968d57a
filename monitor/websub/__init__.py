"""Push from the publisher (W3C WebSub): a feed that names a hub has its updates
pushed to the dashboard's callback, and goes through the same pipeline at once.

* Discovery is the parser's (`ParsedFeed.hub`, `.self_url`); a poll that finds a
  hub records it (`Subscriber.discovered`), nothing more.
* `Subscriber` is a daemon job: it claims due subscriptions in the database and
  asks their hubs (subscribe, renew at `RENEW_AT` of the lease, retry after a
  failure) through the guarded fetcher.
* The hub verifies our intent and pushes content at `/websub/<token>`
  (`monitor.web.websub`); a delivery counts only with a good `X-Hub-Signature`
  under the subscription's own secret.
* A verified subscription sets `feeds.push_until`, which slows polling to
  `schedule.websub_fallback_s`; a failed or denied one lets it lapse, and the
  feed is polled at the latency target again.

`protocol` holds the decisions (pure); `subscriber` does the asking.
"""
