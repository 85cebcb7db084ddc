"""``soc serve``: the API and console under uvicorn (users and tokens: soc.accounts.cli)."""

from __future__ import annotations

import argparse
import os

from soc.api import server
from soc.config import Settings


def cmd_serve(args: argparse.Namespace, settings: Settings) -> int:
    import uvicorn

    if args.config:
        os.environ["SOC_CONFIG"] = str(args.config)  # each worker reads the same settings
    uvicorn.run("soc.main:create_service_app", factory=True, host=args.host, port=args.port, workers=args.workers,
                proxy_headers=False, log_level="info", http=server.PROTOCOL, loop=server.LOOP)  # see soc.web.proxy
    return 0


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    serve = sub.add_parser("serve", help="run the API (uvicorn)")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument("--workers", type=int, default=1)
    serve.set_defaults(func=cmd_serve)
