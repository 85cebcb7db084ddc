"""``soc-collector replay``: a one-shot backfill of existing log files through the collector pipeline.

The files (plain or gzip) are read once, start to end, by the file source in its one-shot mode,
parsed as ``--type``, queued and shipped by the same disk queue and bulk sink as a running
collector; the command exits when every event is acknowledged by OpenSearch (or dead-lettered).
Document ids come from source id, file identity and offset, so replaying the same files again,
even from a fresh queue folder, stores nothing twice; a replay killed midway resumes from its
checkpoint (in its queue folder) when run again with the same arguments.

OpenSearch settings come from ``-c FILE`` (a collector configuration) or from ``--url`` /
``SOC_OPENSEARCH_URL``. On a terminal, stderr shows a progress bar; otherwise a progress line is
logged every few seconds. The last line is the summary: read, shipped, failed.
"""

from __future__ import annotations

import argparse
import glob
import os
import sys
import time
from pathlib import Path
from typing import Any

from collectors.config import CollectorConfig, CollectorConfigError, OpenSearchConfig, SourceConfig, load_config
from collectors.contract.names import AGENCY_ID_RULE, is_agency_id
from collectors.fileconfig import FileOptions
from collectors.offsets import CorruptOffsets
from collectors.sources.tracked import Tracked

TYPES = ("nginx", "apache", "nginx-json", "syslog")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--type", required=True, choices=TYPES, help="the format of the files")
    parser.add_argument("--agency", required=True, help="the agency: the events go to its data streams")
    parser.add_argument("--source", required=True, help="log.source.id of the events (part of their ids)")
    parser.add_argument("-c", "--config", help="take OpenSearch, sink and collector settings from this file")
    parser.add_argument("--url", help="OpenSearch URL (default: SOC_OPENSEARCH_URL or http://127.0.0.1:9200)")
    parser.add_argument("--index-prefix", default=None, help="index name prefix (tests, shared clusters)")
    parser.add_argument("--queue-dir", type=Path, help="queue and checkpoint folder (default: one per agency "
                        "and source under the collector's queue folder, or ~/.local/state/soc-collector)")
    parser.add_argument("--timezone", default=None, help="time zone of timestamps without an offset")
    parser.add_argument("--domain", default=None, help="url.domain for access lines without a virtual host")
    parser.add_argument("files", nargs="+", metavar="FILE")


def _config(args: argparse.Namespace) -> CollectorConfig:
    if not is_agency_id(args.agency):
        raise CollectorConfigError(f"--agency {args.agency!r} is not an agency id ({AGENCY_ID_RULE})")
    files = []
    for name in args.files:
        path = Path(name).resolve()
        if not path.is_file() or not os.access(path, os.R_OK):
            raise CollectorConfigError(f"{name}: not a readable file")
        files.append(str(path))
    base = load_config(args.config) if args.config else None
    if base is not None:
        opensearch = base.opensearch
        queue_root = base.queue_dir / "replay"
    else:
        url = args.url or os.environ.get("SOC_OPENSEARCH_URL") or "http://127.0.0.1:9200"
        opensearch = OpenSearchConfig(url=url.rstrip("/"))
        state = Path(os.environ.get("XDG_STATE_HOME") or Path.home() / ".local" / "state")
        queue_root = state / "soc-collector" / "replay"
    if args.url:
        opensearch = OpenSearchConfig(**{**vars(opensearch), "url": args.url.rstrip("/")})
    if args.index_prefix is not None:
        opensearch = OpenSearchConfig(**{**vars(opensearch), "index_prefix": args.index_prefix})
    options = FileOptions(format=args.type, paths=tuple(dict.fromkeys(glob.escape(f) for f in files)), read_gzip=True,
                          domain=args.domain)
    tz = args.timezone or (base.timezone if base else "UTC")
    source = SourceConfig(id=args.source, protocol="file", host="", port=0, type="file", timezone=tz,
                          max_message_bytes=options.max_line_bytes, file=options)
    queue_dir = args.queue_dir or queue_root / f"{args.agency}-{args.source}"
    collector_id = base.collector_id if base else f"replay-{os.uname().nodename}"[:128]
    extra = {"sink": base.sink} if base else {}
    return CollectorConfig(organization_id=args.agency, collector_id=collector_id, queue_dir=queue_dir,
                           opensearch=opensearch, sources=(source,), timezone=tz, metrics_port=0,
                           **extra)  # type: ignore[arg-type]


class Progress:
    """A bar on a terminal, a line every few seconds otherwise."""

    def __init__(self, total_bytes: int, tty: bool) -> None:
        self.total = max(total_bytes, 1)
        self.tty = tty
        self.done: dict[str, int] = {}
        self.last = 0.0
        self.shipping = False

    def file(self, t: Tracked) -> None:
        size = os.path.getsize(t.state.path) if os.path.exists(t.state.path) else 0
        if t.finished or not t.is_open:
            self.done[t.state.file_id] = size
        elif t.stream is not None:
            raw: Any = t.stream.fileobj  # the compressed file: how far into it the decompressor is
            self.done[t.state.file_id] = min(size, raw.tell() if raw is not None else 0)
        else:
            self.done[t.state.file_id] = t.position

    def show(self, read: int, shipped: int, force: bool = False) -> None:
        now = time.monotonic()
        first = shipped > 0 and not self.shipping  # the first acknowledgement is shown at once
        if not force and not first and now - self.last < (0.1 if self.tty else 3.0):
            return
        self.last = now
        self.shipping = self.shipping or shipped > 0
        share = min(sum(self.done.values()) / self.total, 1.0)
        if self.tty:
            bar = "#" * int(share * 30)
            sys.stderr.write(f"\r[{bar:<30}] {share:6.1%}  read {read}  shipped {shipped} ")
            sys.stderr.flush()
        else:
            print(f"replay: {share:.1%} of the bytes read; read {read}, shipped {shipped}", file=sys.stderr,
                  flush=True)


def run(args: argparse.Namespace) -> int:
    try:
        config = _config(args)
    except CollectorConfigError as exc:
        print(f"soc-collector replay: {exc}", file=sys.stderr)
        return 2
    from collectors.pipeline import Collector

    try:
        collector = Collector(config)
    except OSError as exc:
        print(f"soc-collector replay: cannot open the queue: {exc}", file=sys.stderr)
        return 1
    source = config.sources[0]
    try:
        tailer = collector.tailer(source, once=True)
    except CorruptOffsets as exc:
        collector.queue.close()
        print(f"soc-collector replay: {exc}", file=sys.stderr)
        return 1
    files = {str(Path(f).resolve()) for f in args.files}
    progress = Progress(sum(os.path.getsize(f) for f in files), sys.stderr.isatty())

    def step(t: Tracked) -> None:
        progress.file(t)
        progress.show(tailer.stats["lines"], collector.metrics.snapshot()["shipped"])

    collector.sink.start()
    try:
        tailer.run_once(step)
        while collector.metrics.snapshot()["queued"] > 0 or tailer.pending:
            collector.metrics.wait_for_state(
                lambda s: s["queued"] <= 0 or (s["shipped"] > 0 and not progress.shipping), 1.0)
            progress.show(tailer.stats["lines"], collector.metrics.snapshot()["shipped"])
    finally:
        collector.sink.stop()
        tailer.checkpoint()
        collector.queue.close()
    snap = collector.metrics.snapshot()
    progress.show(tailer.stats["lines"], snap["shipped"], force=True)
    if progress.tty:
        sys.stderr.write("\n")
    failed = snap["dead_lettered"] + snap["dropped"]
    print(f"replay {config.organization_id}/{source.id}: read {tailer.stats['lines']} lines from "
          f"{tailer.stats['files'] + tailer.stats['continued']} file(s), shipped {snap['shipped']}, failed {failed} "
          f"(parse failures {snap['parse_failures']}, truncated {snap['truncated']})")
    return 0 if failed == 0 else 1
