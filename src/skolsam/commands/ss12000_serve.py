"""skolsam ss12000-serve --dataset DIR [--host 127.0.0.1] [--port N] [fault switches]"""

from __future__ import annotations

import argparse
from pathlib import Path

NAME = "ss12000-serve"
HELP = "Serve a dataset folder as a stand-in SS 12000 API (/v2.0, bearer tokens from POST /v2.0/token)."


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--dataset", required=True, type=Path, help="dataset folder (with ss12000/ inside)")
    p.add_argument("--host", default="127.0.0.1", help="interface to listen on (default: loopback only)")
    p.add_argument("--port", type=int, default=8000, help="port (0: any free port; the URL is printed)")
    p.add_argument("--client-id", default="skolsam")
    p.add_argument("--client-secret", default="skolsam")
    p.add_argument("--demo", action="store_true",
                   help="demo mode: accept the default client id and secret (skolsam/skolsam); refused otherwise")
    p.add_argument("--token-ttl", type=int, default=3600, help="seconds an access token stays valid")
    p.add_argument("--max-page-size", type=int, default=10_000, help="largest page served (default 10000)")
    p.add_argument("--index-dir", type=Path, default=None,
                   help="where the SQLite index of the dataset is kept (default: a folder in the temp dir)")
    faults = p.add_argument_group("fault injection (for tests)")
    faults.add_argument("--fail-rate", type=float, default=0.0, help="share of answers that fail (0-1)")
    faults.add_argument("--fail-kinds", default="429,500,drop,slow",
                        help="comma-separated among 429,503,500,slow,drop,corrupt")
    faults.add_argument("--fault-seed", type=int, default=None, help="seed of the fault draws")
    faults.add_argument("--retry-after", type=int, default=1, help="Retry-After seconds on 429/503")
    faults.add_argument("--slow-seconds", type=float, default=2.0, help="delay of a slow answer")
    p.add_argument("--log-level", default="warning", choices=["critical", "error", "warning", "info", "debug"])


def run(args: argparse.Namespace) -> int:
    from ..standin.running import serve

    serve(
        args.dataset,
        host=args.host,
        port=args.port,
        log_level=args.log_level,
        echo=lambda line: print(line, flush=True),
        demo=args.demo,
        client_id=args.client_id,
        client_secret=args.client_secret,
        token_ttl=args.token_ttl,
        max_page_size=args.max_page_size,
        index_dir=args.index_dir,
        fail_rate=args.fail_rate,
        fail_kinds=args.fail_kinds,
        fault_seed=args.fault_seed,
        retry_after=args.retry_after,
        slow_seconds=args.slow_seconds,
    )
    return 0
