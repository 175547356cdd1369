"""Video dream benchmark: frames per second at 256 and 512 px, flicker with and without coherence.

    python bench/video_bench.py [--quick] [--seconds 10] [--json bench/results/video_cpu_2cores.json]

The same as ``dreamlab benchmark --only video`` (``dreamlab/benchmark/video.py``), written as its
own JSON; the machine's load average before and after is in the result (the machine is shared).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from dreamlab.benchmark.measure import machine_info
from dreamlab.benchmark.video import run_video_benchmark, video_lines
from dreamlab.runtime.device import resolve_device


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a 2 s clip (a smoke run)")
    parser.add_argument("--seconds", type=float, default=None, help="the clip's length (10)")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    say = lambda msg: print(f"... {msg}", file=sys.stderr, flush=True)  # noqa: E731
    result = run_video_benchmark(args.device, args.quick, say, args.seconds)
    result["machine"] = machine_info(resolve_device(args.device))
    for line in video_lines(result):
        print(line)
    if args.json is not None:
        args.json.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
