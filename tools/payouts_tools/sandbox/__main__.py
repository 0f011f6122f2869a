"""``python -m payouts_tools.sandbox``: run the sandbox in the foreground until Ctrl-C/SIGTERM."""

from __future__ import annotations

import argparse
import signal
import threading
from collections.abc import Sequence
from types import FrameType

from payouts_tools.sandbox.config import SandboxConfig
from payouts_tools.sandbox.sandbox import Sandbox


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """The command line."""
    parser = argparse.ArgumentParser(
        prog="python -m payouts_tools.sandbox",
        description="Both payout providers' APIs on loopback, with a ledger and fault injection.",
    )
    parser.add_argument("--port", type=int, default=8700, help="port to listen on (0: any free)")
    parser.add_argument("--seed", type=int, default=0, help="seed for outcomes and faults")
    parser.add_argument(
        "--settle-after", type=float, default=1.0, metavar="SECONDS", help="settle delay"
    )
    return parser.parse_args(argv)


def describe(sandbox: Sandbox) -> str:
    """What a developer needs to point the local stack at this sandbox. The credentials are the
    sandbox's fake ones, printed on purpose."""
    config = sandbox.config
    return "\n".join(
        [
            f"payouts sandbox listening on {sandbox.base_url}",
            f"  refused_base_url: {sandbox.refused_base_url}",
            f"  admin:            {sandbox.base_url}/_sandbox/",
            f"  gateway_v2:       platform_id={config.gateway.platform_id}"
            f" signing_key={config.gateway.signing_key}"
            f" query_token={config.gateway.query_token}",
            f"  pg_v2:            app_id={config.pg.app_id} app_secret={config.pg.app_secret}",
            "Ctrl-C to stop.",
        ]
    )


def main(argv: Sequence[str] | None = None) -> int:
    """Run until interrupted; returns the exit status."""
    args = parse_args(argv)
    config = SandboxConfig(port=args.port, seed=args.seed, settle_after_s=args.settle_after)
    interrupted = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        interrupted.set()

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    with Sandbox(config) as sandbox:
        print(describe(sandbox), flush=True)
        # Short waits keep the main thread responsive to signals on every platform.
        while not interrupted.wait(0.2):
            pass
    print("payouts sandbox stopped", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
