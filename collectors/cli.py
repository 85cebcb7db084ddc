"""The ``soc-collector`` command: ``check -c FILE`` validates a configuration, ``run -c FILE`` runs it,
``replay --type T --agency A --source S FILE...`` ships existing files once (:mod:`collectors.replay`)."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence

from collectors import replay as replay_args
from collectors.config import CollectorConfig, CollectorConfigError, SourceConfig, load_config
from collectors.offsets import CorruptOffsets


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="soc-collector", description="SOC edge collector")
    sub = parser.add_subparsers(dest="command", required=True)
    check = sub.add_parser("check", help="validate a configuration file and name the wrong line")
    check.add_argument("-c", "--config", required=True)
    run = sub.add_parser("run", help="receive, queue and ship events until SIGTERM")
    run.add_argument("-c", "--config", required=True)
    run.add_argument("--log-level", default="INFO", choices=["DEBUG", "INFO", "WARNING", "ERROR"])
    replay = sub.add_parser("replay", help="ship existing files (gzip too) once, exit when all are acknowledged")
    replay_args.add_arguments(replay)
    replay.add_argument("--log-level", default="WARNING", choices=["DEBUG", "INFO", "WARNING", "ERROR"])
    return parser


def describe(source: SourceConfig) -> str:
    """One source as ``check`` lists it: ``id (tcp 0.0.0.0:514)`` or ``id (file nginx: PATTERN, ...)``."""
    if source.file is not None:
        return f"{source.id} (file {source.file.format}: {', '.join(source.file.paths)})"
    return f"{source.id} ({source.protocol} {source.host}:{source.port})"


def summary(path: str, config: CollectorConfig) -> str:
    return (f"{path}: ok: collector {config.collector_id} of {config.organization_id}, "
            f"{len(config.sources)} source(s): " + ", ".join(describe(s) for s in config.sources))


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "replay":
        logging.basicConfig(level=args.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
        logging.getLogger("httpx").setLevel(logging.WARNING)
        return replay_args.run(args)
    try:
        config = load_config(args.config)
    except CollectorConfigError as exc:
        print(f"soc-collector: {exc}", file=sys.stderr)
        return 2
    if args.command == "check":
        print(summary(args.config, config))
        return 0
    logging.basicConfig(level=args.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)  # one line per request is noise
    from collectors.pipeline import Collector

    try:
        collector = Collector(config)
    except OSError as exc:
        print(f"soc-collector: cannot start: {exc}", file=sys.stderr)
        return 1
    try:
        collector.run_forever()
    except CorruptOffsets as exc:
        collector.queue.close()
        print(f"soc-collector: cannot start: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
