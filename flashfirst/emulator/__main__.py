"""``python -m flashfirst.emulator --port 8799``: the emulator as its own process."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from flashfirst.emulator.config import EmulatorConfig
from flashfirst.emulator.embedded import serve


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m flashfirst.emulator",
                                     description="Serve the Gemini API emulator.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8799)
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument("--latency-scale", type=float, default=None,
                        help="0 answers at once; 1 is realistic.")
    parser.add_argument("--api-key", default=None, help="Require this API key.")
    parser.add_argument("--state-dir", default=None,
                        help="Keep files, caches and batches here across restarts.")
    parser.add_argument("--config", type=Path, default=None,
                        help="A JSON file with an EmulatorConfig.")
    args = parser.parse_args(argv)
    data = json.loads(args.config.read_text()) if args.config else {}
    for field, value in (("seed", args.seed), ("latency_scale", args.latency_scale),
                         ("api_key", args.api_key), ("state_dir", args.state_dir)):
        if value is not None:
            data[field] = value
    serve(args.host, args.port, EmulatorConfig.model_validate(data))


if __name__ == "__main__":
    main()
