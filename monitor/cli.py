"""Command line: parses arguments, calls `monitor.app`, prints what it returns.

Errors meant for a person (`monitor.errors.MonitorError`) are printed on one
line and mapped to their exit code in one place (`_Main.invoke`); anything else
is a bug and keeps its traceback (exit 1). Modules are imported by the command
that needs them, so `monitor --help` starts at once.
"""

from __future__ import annotations

import contextlib
import json
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

import click

from monitor.errors import ConfigError, ExitCode, MonitorError
from monitor.states import AlertState

if TYPE_CHECKING:
    from monitor.app import App
    from monitor.ingest.discovery import Discovery

PROGRESS_MIN = 50  # show a progress bar on a terminal from this many units on


def fail(message: str, code: ExitCode) -> NoReturn:
    click.echo(f"error: {message}", err=True)
    sys.exit(code)


@contextlib.contextmanager
def progress(total: int, label: str) -> Iterator[Any]:
    """A progress bar on stderr when it is a terminal; silent otherwise."""
    if total < PROGRESS_MIN or not sys.stderr.isatty():
        yield lambda n: None
        return
    with click.progressbar(length=total, label=label, file=sys.stderr) as bar:
        yield bar.update


@contextlib.contextmanager
def progress_later(label: str) -> Iterator[tuple[Any, Any]]:
    """`progress` for a run that knows its total only once started: (start(total), advance(n))."""
    with contextlib.ExitStack() as stack:
        bar: list[Any] = [lambda n: None]

        def start(total: int) -> None:
            bar[0] = stack.enter_context(progress(total, label))

        yield start, lambda n: bar[0](n)


class Context:
    def __init__(self, config_path: Path | None) -> None:
        self.config_path = config_path

    @property
    def app(self) -> App:
        from monitor import logs
        from monitor.app import App
        from monitor.config import load_config

        config = load_config(self.config_path)
        logs.configure(config.settings.log.level, config.settings.log.format)
        return App(config)


pass_ctx = click.make_pass_decorator(Context)


class _Main(click.Group):
    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except MonitorError as exc:
            fail(str(exc), exc.exit_code)


@click.group(cls=_Main, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.option(
    "--config",
    "config_path",
    type=click.Path(path_type=Path, dir_okay=False),
    envvar="MONITOR_CONFIG",
    help="TOML config file. Default: config/monitor.toml, else config/monitor.example.toml.",
)
@click.version_option(package_name="press-monitor")
@click.pass_context
def main(ctx: click.Context, config_path: Path | None) -> None:
    """press-monitor: watch diplomatic press feeds for OHCHR, UPR, ILO and your own rules.

    Every item, from a live feed or a replayed file, takes the same path:
    normalize, deduplicate, classify against the watch rules, store, alert.

    \b
    Exit codes:
      0  success
      1  unexpected failure (a bug: please report the traceback)
      2  bad usage, config or rule file (the message names the file and key)
      3  bad input: a fixture or document that cannot be read or parsed
      4  database unreachable, corrupt or not migrated
      5  done, but some feeds or deliveries failed (recorded: see `monitor feeds`,
         `monitor alerts list`)
      6  `monitor rules test --fail-on-loss`: a candidate rule loses a stored match
    """
    ctx.obj = Context(config_path)


# replay / classify ---------------------------------------------------------------


@main.command(name="replay")
@click.argument("paths", nargs=-1, required=True)
@click.option("--json", "as_json", is_flag=True, help="One JSON object per item per line.")
@click.option("--dry-run", is_flag=True, help="Classify and report, store nothing.")
@click.option(
    "--keep-going", is_flag=True, help="Store what can be read even if some files cannot (exit 3)."
)
@pass_ctx
def replay_cmd(ctx: Context, paths: tuple[str, ...], as_json: bool, dry_run: bool, keep_going: bool) -> None:
    """Replay fixture files (.txt press texts; .xml/.rss/.atom/.rdf feeds) through the pipeline.

    PATHS are files, directories (searched recursively) or - for standard input.
    Items already stored are reported as seen and stored again nowhere.
    """
    from monitor import app as use
    from monitor.report import json_line, result_dict, result_text

    app = ctx.app
    pipeline = app.open_pipeline(dry_run=dry_run)  # rule, route and database problems first
    files = use.fixture_paths(paths)
    with progress(len(files), "reading") as advance:
        loaded = use.load_fixtures(files, advance)
    for error in loaded.errors:
        click.echo(f"error: {error}", err=True)
    if loaded.errors and not keep_going:
        fail(f"{len(loaded.errors)} of {len(files)} inputs unusable; nothing stored", ExitCode.INPUT)

    counts = {"new": 0, "seen": 0, "matched": 0}
    with progress(len(loaded.items), "replaying") as advance:
        for result in use.replay(app, pipeline, loaded, dry_run=dry_run, progress=advance):
            counts[result.outcome.status] += 1
            counts["matched"] += bool(result.hits)
            click.echo(json_line(result_dict(result)) if as_json else result_text(result) + "\n")
    if not as_json:
        stored = "nothing stored (dry run)" if dry_run else f"{counts['new']} new"
        click.echo(
            f"{len(loaded.items)} items from {loaded.files} files: {stored}, "
            f"{counts['seen']} already seen, {counts['matched']} matched a rule",
            err=True,
        )
    if loaded.errors:
        sys.exit(ExitCode.INPUT)


@main.command()
@click.argument("path")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per item.")
@pass_ctx
def classify(ctx: Context, path: str, as_json: bool) -> None:
    """Show which rules one text matches, where, and why. PATH is a fixture file or -."""
    from monitor import app as use
    from monitor.present.sanitize import printable
    from monitor.report import classification_dict, hits_text, json_line, set_aside_text

    for item, hits, set_aside in use.classify(ctx.app, None if path == "-" else Path(path)):
        if as_json:
            click.echo(json_line(classification_dict(item, hits, set_aside)))
        else:
            click.echo(f"{printable(item.title)}  [{printable(item.language or 'language unknown')}]")
            click.echo("\n".join(hits_text(item, hits, indent=2) + set_aside_text(item, set_aside, indent=2)))


# rules ---------------------------------------------------------------------------


@main.group()
def rules() -> None:
    """Work with watch rule files."""


@rules.command(name="check")
@click.argument("files", nargs=-1, type=click.Path(path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@pass_ctx
def rules_check(ctx: Context, files: tuple[Path, ...], as_json: bool) -> None:
    """Validate rule files (default: the rule paths of the config). Exit 2 on any problem."""
    from monitor.errors import RuleError
    from monitor.rules import load_rules

    paths = list(files) or ctx.app.config.rule_paths
    try:
        ruleset = load_rules(paths)
    except RuleError as exc:
        if not as_json:
            raise
        click.echo(json.dumps({"ok": False, "errors": str(exc).splitlines()}))
        sys.exit(exc.exit_code)
    if as_json:
        click.echo(json.dumps({"ok": True, "rules": list(ruleset.ids)}))
    else:
        click.echo(f"ok: {len(ruleset.ids)} rules ({', '.join(ruleset.ids)})")


class Since(click.ParamType):
    """`30d`, `12h`, `2w` (that long ago) or a date `2025-01-31` (from its start, UTC)."""

    name = "since"
    UNITS = {"h": 3600, "d": 86400, "w": 7 * 86400}

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        from datetime import UTC, datetime, timedelta

        if isinstance(value, datetime):
            return value
        text = str(value).strip().lower()
        try:
            if text[-1:] in self.UNITS and text[:-1].isdigit():
                return datetime.now(UTC) - timedelta(seconds=int(text[:-1]) * self.UNITS[text[-1]])
            return datetime.fromisoformat(text).replace(tzinfo=UTC)
        except ValueError:
            pass
        self.fail(f"{value!r}: give a duration (30d, 12h, 2w) or a date (2025-01-31)", param, ctx)


@rules.command(name="test")
@click.argument("files", nargs=-1, type=click.Path(path_type=Path))
@click.option("--since", default="30d", show_default=True, type=Since(),
              help="Only items stored since then: 30d, 12h, 2w or a date.")
@click.option("--rule", "rule", help="Compare only this rule.")
@click.option("--all", "show_all", is_flag=True, help="Show every gained and lost item (default: the first 10).")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per rule.")
@click.option("--fail-on-loss", is_flag=True, help="Exit 6 when a candidate rule loses a stored match (for CI).")
@pass_ctx
def rules_test(ctx: Context, files: tuple[Path, ...], since: Any, rule: str | None, show_all: bool,
               as_json: bool, fail_on_loss: bool) -> None:
    """Backtest candidate rule FILES (default: the config's rule paths as they are
    now) on the stored items: per rule, the items the stored hits match, the items
    the candidate matches, and what it gains and loses, with headline, source, date
    and the words that matched. Reads only: nothing is stored, no alert is made.

    Every stored item whose text is kept is tried (the first item of each story),
    in the parse workers on every core. Exit 0, or 6 with --fail-on-loss when a
    candidate rule loses a match.
    """
    from monitor import app as use
    from monitor.report import backtest_text, json_line, rule_diff_dict

    with progress_later("testing") as (start, advance):
        tally = use.rules_test(ctx.app, files, since=since, rule=rule, limit=None if show_all else 10,
                               total=start, progress=advance)
    if as_json:
        for diff in tally.diffs.values():
            click.echo(json_line(rule_diff_dict(diff)))
    else:
        click.echo("\n".join(backtest_text(tally)))
    click.echo(f"{tally.scanned} stored items tried; {tally.lost} lost matches", err=True)
    if fail_on_loss and tally.lost:
        sys.exit(ExitCode.LOST)


# reclassify ----------------------------------------------------------------------


@main.command(name="reclassify")
@click.option("--since", "since_text", help="Only items stored since then: 30d, 12h, 2w or a date (default: all).")
@click.option("--rule", "rule", help="Replace only this rule's hits.")
@click.option("--dry-run", is_flag=True, help="Say what would change; write nothing.")
@click.option("--alert", is_flag=True, help="Queue alerts for items that match now (default: none for the past).")
@click.option("--batch", type=click.IntRange(1, 100_000), default=1000, show_default=True,
              help="Items per transaction: fewer hold the database's write lock for less time.")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
@pass_ctx
def reclassify_cmd(ctx: Context, since_text: str | None, rule: str | None, dry_run: bool, alert: bool,
                   batch: int, as_json: bool) -> None:
    """Apply the rules in force to the stored items: hits and the matched state are
    rewritten where they changed, in batches, each item recording the rules version.

    Items that match now get alerts only with --alert (through the outbox, once).
    Matches that disappear keep their sent alerts; they are marked as no longer
    matching, with the rules version and the rules they matched. Safe to interrupt
    (Ctrl-C, kill) and rerun: a run with the same rules and options resumes after
    its last finished batch.
    """
    from monitor import app as use

    since = Since().convert(since_text, None, None) if since_text else None
    with progress_later("reclassifying") as (start, advance):
        report = use.reclassify(ctx.app, since=since, since_text=since_text or "all", rule=rule, dry_run=dry_run,
                                alert=alert, total=start, progress=advance, batch=batch)
    if as_json:
        click.echo(json.dumps({"rules_version": report.version, "scanned": report.scanned,
                               "changed": report.changed, "no_longer_matching": report.unmatched,
                               "newly_matching": report.matched, "alerts": report.alerts,
                               "dry_run": dry_run, "resumed_after": report.resumed_after}))
        return
    resumed = f" (resumed after item {report.resumed_after})" if report.resumed_after else ""
    verb = "would change" if dry_run else "changed"
    click.echo(f"rules version {report.version}: {report.scanned} items classified{resumed}; {report.changed} "
               f"{verb} ({report.matched} now match, {report.unmatched} no longer match); "
               f"{report.alerts} alerts queued", err=True)


# db ------------------------------------------------------------------------------


@main.group()
def db() -> None:
    """The database: migrations (Alembic), row counts and sizes, an online backup (SQLite)."""


@db.command()
@pass_ctx
def upgrade(ctx: Context) -> None:
    """Apply all pending migrations (the daemon does this at start too)."""
    app = ctx.app
    revision = app.upgrade()
    click.echo(f"database {app.database_label} is at revision {revision}")


@db.command()
@pass_ctx
def current(ctx: Context) -> None:
    """Print the database's migration revision; exit 4 if it is behind."""
    app = ctx.app
    revision, head = app.revision()
    click.echo(f"database {app.database_label}: revision {revision}, newest {head}")
    if revision != head:
        sys.exit(ExitCode.DATABASE)


@db.command("stats")
@click.option("--json", "as_json", is_flag=True, help="one JSON object instead of the table")
@pass_ctx
def db_stats(ctx: Context, as_json: bool) -> None:
    """Row counts, size on disk and the oldest and newest item.

    Counting reads every row's index entry: a second or two at millions of items."""
    from monitor.app import database_stats

    stats = database_stats(ctx.app)
    if as_json:
        click.echo(json.dumps(stats.as_dict()))
        return
    click.echo(f"backend        {stats.backend}")
    click.echo(f"size           {stats.size_bytes / 1e6:,.1f} MB"
               + (f" ({stats.size_bytes / stats.rows['items'] * 1e6 / 1e9:.2f} GB per million items)"
                  if stats.rows["items"] else ""))
    for table, count in stats.rows.items():
        size = stats.table_bytes.get(table)
        click.echo(f"{table:<15}{count:>12,} rows" + (f"  {size / 1e6:,.1f} MB" if size is not None else ""))
    click.echo(f"texts kept     {stats.texts_kept:>12,} items")
    click.echo(f"oldest item    {stats.oldest_item.isoformat() if stats.oldest_item else '-'}")
    click.echo(f"newest item    {stats.newest_item.isoformat() if stats.newest_item else '-'}")


@db.command("backup")
@click.argument("path", type=click.Path(dir_okay=False, path_type=Path))
@pass_ctx
def db_backup(ctx: Context, path: Path) -> None:
    """Copy the SQLite database to PATH (a new file), consistently, while the daemon runs.

    The copy is the database as of one instant (SQLite's VACUUM INTO, from one
    read transaction: the daemon keeps writing meanwhile), compacted, mode 0600,
    and checked (PRAGMA quick_check) before this says it is written. On
    PostgreSQL it refuses (exit 3) and names pg_dump."""
    from monitor.app import backup_database

    made = backup_database(ctx.app, path)
    click.echo(f"backup written: {made.path} ({made.size_bytes / 1e6:,.1f} MB in {made.seconds:.1f}s), checked ok")


# daemon and polling ---------------------------------------------------------------


@main.command()
@pass_ctx
def run(ctx: Context) -> None:
    """Run the daemon in the foreground (what systemd starts).

    Migrates the database, syncs the feed list from the config, then polls due
    feeds on a schedule. Logs go to stderr, one line per event. SIGTERM/SIGINT
    stop it cleanly (in-flight fetches get a grace period, leases are released);
    SIGHUP reloads the config and rules without dropping work.
    """
    import asyncio

    from monitor.daemon import Daemon

    app = ctx.app
    app.check()
    with app.database():
        code = asyncio.run(Daemon(ctx.config_path, app).run())
    sys.exit(code)


@main.command()
@click.option("--once", is_flag=True, required=True, help="Run one cycle and exit (required).")
@click.option("--all", "all_feeds", is_flag=True, help="Poll every enabled feed, due or not.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object per polled feed.")
@pass_ctx
def poll(ctx: Context, once: bool, all_feeds: bool, as_json: bool) -> None:
    """Poll every due feed once and exit (for cron, and for tests).

    Exit 0 when every feed polled cleanly (or none was due), 5 when at least one
    failed (the failure is recorded on the feed; see `monitor feeds`).
    """
    from monitor import app as use
    from monitor.secrets import redact_url, redact_urls

    report = use.poll_once(ctx.app, all_feeds=all_feeds)
    for p in report.polls:
        if as_json:
            click.echo(json.dumps({"feed": redact_url(p.url), "result": p.result, "items": p.items, "new": p.new,
                                   "matched": p.matched, "error": p.error and redact_urls(p.error)}))
    click.echo(
        f"{len(report.polls)} feeds polled in {report.seconds:.1f}s: {report.new_items} new items, "
        f"{report.count('not-modified')} not modified, {report.count('error')} failed",
        err=True,
    )
    sys.exit(ExitCode.PARTIAL if report.count("error") else ExitCode.OK)


# feeds ---------------------------------------------------------------------------


@main.group(invoke_without_command=True)
@click.option("--json", "as_json", is_flag=True, help="One JSON object per feed.")
@click.pass_context
def feeds(click_ctx: click.Context, as_json: bool) -> None:
    """List every feed with its state (or see the subcommands)."""
    if click_ctx.invoked_subcommand is not None:
        return
    from monitor import app as use
    from monitor.present.dates import duration, when
    from monitor.present.sanitize import printable
    from monitor.present.sources import how_read
    from monitor.publishing import PublishingHours
    from monitor.report import feed_dict

    app = click_ctx.find_object(Context).app  # type: ignore[union-attr]
    states = use.feed_states(app)
    push = use.push_states(app)
    articles = use.article_states(app)
    if as_json:
        for f in states:
            click.echo(json.dumps(feed_dict(f) | {"push": push.get(f.id), "articles": articles.get(f.id)}))
        return
    if not states:
        click.echo("no feeds: list some under [[feeds]] or opml = [...] in the config, then start the daemon")
        return
    for f in states:
        click.echo(
            f"{f.health:<12} {printable(f.name)[:60]}{f'  (feed: {printable(f.beside)[:60]})' if f.beside else ''}\n"
            f"{'':<12} {printable(f.url)}\n"
            f"{'':<12} last success {when(f.last_success_at, 'never')}, next poll {when(f.next_poll_at, 'never')}, "
            f"items seen {f.items_seen}, interval {duration(f.interval_s)}, "
            f"publishes every {duration(f.publish_gap_s)}"
        )
        if reads := how_read(f.url, f.source_kind, f.link_selector, f.resolved_as, f.resolved_url):
            click.echo(f"{'':<12} reads {printable(reads)}")
        if f.slower_because:
            click.echo(f"{'':<12} polled less often: {printable(f.slower_because)}")
        if f.id in push:
            click.echo(f"{'':<12} {printable(push[f.id])[:300]}")
        if f.id in articles:
            click.echo(f"{'':<12} {printable(articles[f.id])[:300]}")
        if busiest := PublishingHours.of(f.publish_hours).busiest():
            click.echo(f"{'':<12} publishes most at {', '.join(busiest)} (UTC)")
        if f.last_error:
            click.echo(f"{'':<12} last error {when(f.last_error_at, 'never')} ({f.consecutive_errors} in a row): "
                       f"{printable(f.last_error)[:200]}")
        if f.disabled_reason:
            click.echo(f"{'':<12} disabled: {printable(f.disabled_reason)}")


@feeds.command(name="discover")
@click.argument("url")
@click.option("--page", "as_page", is_flag=True, help='Read it as a listing page (kind = "page"), even if it is a feed.')
@click.option("--links", "selector", metavar="CSS", help="CSS selector of the article links (as `links =` in the config).")
@click.option("--json", "as_json", is_flag=True, help="One JSON object.")
@pass_ctx
def feeds_discover(ctx: Context, url: str, as_page: bool, selector: str | None, as_json: bool) -> None:
    """Show what the daemon would read at URL, before you add it as a source.

    A feed is read as a feed. An HTML page that declares its feed
    (<link rel="alternate" type="application/rss+xml">) has that feed read
    instead. Any other HTML page is a listing page: its article links become
    items; shown with the text extracted from the first article. Fetched with
    the [fetch] limits of the config (private addresses stay refused unless it
    allows them); nothing is stored.

    Exit status: 0 something can be read there; 2 bad URL or selector;
    3 nothing can be read (not reachable, not a feed, no article links).
    """
    from urllib.parse import urlsplit

    from monitor import app as use
    from monitor.ingest.listing import check_selector

    if urlsplit(url).scheme not in ("http", "https") or not urlsplit(url).hostname:
        raise click.BadParameter(f"{url!r} is not an http(s) URL", param_hint="URL")
    if selector is not None:
        try:
            selector = check_selector(selector)
        except ValueError as exc:
            raise click.BadParameter(str(exc), param_hint="--links") from exc
    found = use.discover_source(ctx.app, url, selector=selector, page=as_page)
    if as_json:
        from monitor.report import discovery_dict

        click.echo(json.dumps(discovery_dict(found)))
        return
    _print_discovery(found)


def _print_discovery(found: Discovery) -> None:
    from monitor.present.sanitize import printable

    if found.read_as == "feed" and found.declared_by:
        click.echo(f"{printable(found.url)} is an HTML page that declares its feed:")
        click.echo(f"  feed      {printable(found.feed_url)}")
        for other in found.declared[1:]:
            click.echo(f"  (also declared: {printable(other)})")
    elif found.read_as == "feed":
        click.echo(f"{printable(found.url)} is a feed:")
    else:
        click.echo(f"{printable(found.url)} is a listing page (it declares no feed): its article links become items")
    click.echo(f"  title     {printable(found.title) or '(none)'}")
    noun = "entries" if found.read_as == "feed" else "article links"
    click.echo(f"  {noun}: {len(found.entries)}")
    if found.problem:
        click.echo(f"  problem   {printable(found.problem)}")
    for item in found.entries[:50]:
        click.echo(f"  - {printable(item.title)[:120] or '(no title)'}\n    {printable(item.url)}")
    if len(found.entries) > 50:
        click.echo(f"  … and {len(found.entries) - 50} more")
    if found.article_url:
        click.echo(f"first article: {printable(found.article_url)}")
        if found.article_text is not None:
            click.echo(textwrap.indent(textwrap.fill(printable(found.article_text)[:2000], width=100), "  "))
        else:
            click.echo(f"  ({printable(found.article_note)})")


@feeds.command(name="export")
@click.option("--all", "include_disabled", is_flag=True, help="Include disabled feeds.")
@pass_ctx
def feeds_export(ctx: Context, include_disabled: bool) -> None:
    """Write the feed list as OPML to stdout (import it into any feed reader)."""
    from monitor import app as use

    sys.stdout.buffer.write(use.export_opml(ctx.app, include_disabled=include_disabled))


# alerts --------------------------------------------------------------------------


@main.group()
def alerts() -> None:
    """Alert delivery: the outbox, its channels, retries and dead letters."""


@alerts.command(name="list")
@click.option("--state", type=click.Choice([s.value for s in AlertState]), help="Only alerts in this state.")
@click.option("--channel", help="Only alerts for this channel.")
@click.option("--limit", type=int, default=50, show_default=True, help="Newest first, at most this many.")
@click.option("--attempts", "with_attempts", is_flag=True, help="Show every delivery attempt too.")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per alert.")
@pass_ctx
def alerts_list(
    ctx: Context, state: str | None, channel: str | None, limit: int, with_attempts: bool, as_json: bool
) -> None:
    """List alerts, newest first, with disabled channels on top.

    States: pending (waiting for delivery or a retry), sent, dead (every attempt
    failed: see `monitor alerts retry`), digested (inside a digest not yet sent),
    suppressed (its story was marked not relevant before it went out).
    """
    from monitor import app as use
    from monitor.present.dates import when
    from monitor.present.sanitize import printable
    from monitor.report import alert_dict, json_line

    rows, logs_, disabled = use.list_alerts(ctx.app, state=state, channel=channel, limit=limit,
                                            with_attempts=with_attempts or as_json)
    if as_json:
        for row in rows:
            click.echo(json_line(alert_dict(row, logs_.get(row.id))))
        return
    for name, d in sorted(disabled.items()):
        click.echo(f"channel {name} DISABLED since {when(d.disabled_at)}: {printable(d.reason)}"
                   f" (re-enable: monitor alerts enable {name})")
    if not rows:
        click.echo("no alerts" + (f" in state {state}" if state else ""))
        return
    for r in rows:
        what = printable(r.title)[:70] if r.kind == "item" else "digest"
        click.echo(f"{r.id:>6} {r.state:<9} {r.channel:<14} {','.join(r.rules):<18} {what}")
        detail = f"{'':>6} {r.mode}, {r.attempts} attempt(s), created {when(r.created_at)}"
        if r.state == AlertState.PENDING:
            detail += f", next {when(r.next_attempt_at, 'at its digest')}"
        if r.sent_at:
            detail += f", sent {when(r.sent_at)}"
        if r.digest_id:
            detail += f", in digest {r.digest_id}"
        click.echo(detail)
        if r.last_error and r.state != AlertState.SENT:
            click.echo(f"{'':>6} last error: {printable(r.last_error)[:200]}")
        for a in logs_.get(r.id, []):
            click.echo(f"{'':>8} {when(a.at)} {'ok  ' if a.ok else 'FAIL'} {printable(a.status or '')[:60]}"
                       f" {printable(a.error or '')[:120]}".rstrip())


@alerts.command(name="retry")
@click.argument("ids", nargs=-1, type=int)
@click.option("--dead", is_flag=True, help="Re-drive every dead alert.")
@pass_ctx
def alerts_retry(ctx: Context, ids: tuple[int, ...], dead: bool) -> None:
    """Deliver alerts again now, with a fresh set of attempts: IDs, or --dead for all dead ones.

    Exit 5 when some of the IDs could not be retried (each is named, with why).
    """
    from monitor import app as use

    if bool(ids) == dead:
        raise ConfigError("give alert ids or --dead (not both)")
    result = use.retry_alerts(ctx.app, list(ids), dead=dead)
    for alert_id, why in result.refused:
        click.echo(f"alert {alert_id}: not retried: {why}", err=True)
    click.echo(f"{len(result.ids)} alert(s) queued for delivery now"
               + (": " + ", ".join(map(str, result.ids)) if result.ids else ""))
    if result.refused:
        sys.exit(ExitCode.PARTIAL)


@alerts.command(name="send")
@pass_ctx
def alerts_send(ctx: Context) -> None:
    """One dispatch pass: deliver every due alert now, then exit (cron, tests).

    Exit 0 when every attempt succeeded (or nothing was due), 5 when some failed
    (they are scheduled for retry or dead: see `monitor alerts list`).
    """
    from monitor import app as use

    report = use.send_alerts(ctx.app)
    click.echo(f"{report.sent} sent, {report.failed} failed (will retry), {report.dead} dead"
               + (f"; disabled by their receiver: {', '.join(report.disabled)}" if report.disabled else ""),
               err=True)
    sys.exit(ExitCode.PARTIAL if report.failed or report.dead else ExitCode.OK)


@alerts.command(name="test")
@click.argument("channel")
@pass_ctx
def alerts_test(ctx: Context, channel: str) -> None:
    """Send a sample alert to CHANNEL now and say what the receiver answered (exit 5 if it failed)."""
    from monitor import app as use
    from monitor.present.sanitize import printable

    result = use.test_channel(ctx.app, channel)
    if result.ok:
        click.echo(f"ok: {channel} accepted the test message ({printable(result.status or '')})")
        return
    fail(f"{channel}: {printable(result.error or 'failed')}", ExitCode.PARTIAL)


@alerts.command(name="digest")
@click.argument("channel")
@pass_ctx
def alerts_digest(ctx: Context, channel: str) -> None:
    """Collect CHANNEL's digest now instead of at its cron time (then run `send`)."""
    from monitor import app as use

    digest_id = use.digest_now(ctx.app, channel)
    click.echo(f"digest {digest_id} collected; `monitor alerts send` delivers it" if digest_id
               else "nothing waiting for a digest")


@alerts.command(name="enable")
@click.argument("channel")
@pass_ctx
def alerts_enable(ctx: Context, channel: str) -> None:
    """Re-enable a channel its receiver disabled (HTTP 410); its alerts go out again."""
    from monitor import app as use

    was_disabled = use.enable_channel(ctx.app, channel)
    click.echo(f"{channel} enabled" if was_disabled else f"{channel} was not disabled")


@alerts.command(name="channels")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per channel.")
@pass_ctx
def alerts_channels(ctx: Context, as_json: bool) -> None:
    """Every configured channel: where it goes, its routes, digest, state and backlog."""
    from monitor import app as use
    from monitor.present.dates import iso
    from monitor.present.sanitize import printable

    infos = use.channels(ctx.app)
    for c in infos:
        if as_json:
            click.echo(json.dumps({
                "name": c.name, "type": c.type, "target": c.target, "routes": c.routes, "digest": c.digest,
                "disabled": c.disabled, "disabled_at": iso(c.disabled_at), "pending": c.pending, "dead": c.dead,
            }))
            continue
        state = f"DISABLED: {printable(c.disabled)}" if c.disabled else "enabled"
        click.echo(f"{c.name:<14} {c.type:<8} {c.target}\n{'':<14} {state}; {c.pending} pending, {c.dead} dead"
                   + (f"; digest {c.digest}" if c.digest else ""))
        for route in c.routes:
            click.echo(f"{'':<14} route: {route}")
    if not infos and not as_json:
        click.echo("no channels: declare some under [channels.NAME] in the config")


# matches -------------------------------------------------------------------------


@main.command(name="matches")
@click.option("--rule", help="Only stories with a hit of this rule id.")
@click.option("--since", type=click.DateTime(["%Y-%m-%d"]), help="Stored on or after this UTC day (YYYY-MM-DD).")
@click.option("--until", type=click.DateTime(["%Y-%m-%d"]), help="Stored on or before this UTC day (inclusive).")
@click.option("--source", help="Only stories a feed carried: its number, URL or title (see `monitor feeds`).")
@click.option("--relevant-only", is_flag=True, help="Leave out stories an analyst marked not relevant.")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per match per line.")
@click.option("--csv", "as_csv", is_flag=True, help="CSV for a spreadsheet: one row per match, hits joined.")
@click.option("--bom", is_flag=True, help="With --csv: start with a UTF-8 byte order mark (for Excel).")
@pass_ctx
def matches_cmd(
    ctx: Context, rule: str | None, since: Any, until: Any, source: str | None, relevant_only: bool,
    as_json: bool, as_csv: bool, bom: bool,
) -> None:
    """List stored matches, newest first: headline, source, link, dates, rules, hits, story, marks.

    A match is a story: its first item, its hits, and every other source that
    carried it. --csv cells that a spreadsheet would read as a formula (starting
    with = + - @, a tab or CR) are prefixed with ' so they stay text.

    \b
    Examples:
      monitor matches --rule upr --since 2024-11-01
      monitor matches --csv --bom > matches.csv
      monitor matches --json --relevant-only | jq .headline
    """
    from monitor import app as use
    from monitor.export import csv_chunks, match_dict
    from monitor.present.dates import when
    from monitor.present.sanitize import printable
    from monitor.report import json_line

    if as_json and as_csv:
        raise ConfigError("give --json or --csv, not both")
    if bom and not as_csv:
        raise ConfigError("--bom is for --csv")
    found = use.list_matches(ctx.app, rule=rule, since=since and since.date(), until=until and until.date(),
                             source=source, relevant_only=relevant_only)
    if as_csv:
        for chunk in csv_chunks(found, bom=bom):  # UTF-8 whatever the locale: a file for a spreadsheet
            sys.stdout.buffer.write(chunk.encode("utf-8"))
        sys.stdout.buffer.flush()
        return
    count = 0
    for m in found:
        count += 1
        if as_json:
            click.echo(json_line(match_dict(m)))
            continue
        hits = "; ".join(f"{h.rule}: {h.matched}" for h in m.hits[:5]) + (" …" if len(m.hits) > 5 else "")
        click.echo(f"{m.id:>7} {when(m.ingested_at)}  {printable(m.title)[:90]}\n"
                   f"{'':>7} {printable(m.source.name)}, published {when(m.published_at, 'unknown')}"
                   + (f", also {len(m.extra_sources)} other source(s)" if m.extra_sources else "")
                   + (" [not relevant]" if m.not_relevant else "")
                   + f"\n{'':>7} rules {', '.join(m.rules)}: {printable(hits)[:200]}"
                   + (f"\n{'':>7} {printable(m.url)}" if m.url else ""))
    if not as_json and count == 0:
        click.echo("no matches" + (" for this filter" if rule or since or until or source or relevant_only else ""))
