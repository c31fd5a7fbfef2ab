"""Print how long ``import openprotocols`` takes (target: under 150 ms on the CI machine).

Each figure is the median of several fresh interpreters, so the page cache is warm and
the numbers are comparable between runs. ``-X importtime`` lists the slowest modules.

    python benchmarks/import_time.py [--runs N]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time

CASES = {
    "python -c pass (the interpreter alone)": "pass",
    "import openprotocols": "import openprotocols",
    "import openprotocols; openprotocols.Appointment (the model)": (
        "import openprotocols; openprotocols.Appointment"
    ),
    "openprotocols.get_plugin_manager(entry_points=False).backends()": (
        "import openprotocols; openprotocols.get_plugin_manager(entry_points=False).backends()"
    ),
}


def wall_ms(code: str) -> float:
    """Milliseconds one fresh interpreter takes to run ``code``."""
    start = time.perf_counter()
    subprocess.run([sys.executable, "-c", code], check=True)
    return (time.perf_counter() - start) * 1000


def slowest_modules(code: str, count: int = 8) -> list[tuple[int, str]]:
    """The modules with the largest cumulative import time (microseconds)."""
    result = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", code],
        check=True,
        capture_output=True,
        text=True,
    )
    rows = []
    for line in result.stderr.splitlines():
        if not line.startswith("import time:") or "cumulative" in line:
            continue
        _, cumulative, name = (
            part.strip() for part in line.removeprefix("import time:").split("|")
        )
        if name.lstrip() == name:  # top-level imports only
            rows.append((int(cumulative), name))
    return sorted(rows, reverse=True)[:count]


def main() -> None:
    """Measure and print."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    base = None
    for label, code in CASES.items():
        wall_ms(code)  # warm the page cache
        median = statistics.median(wall_ms(code) for _ in range(args.runs))
        extra = "" if base is None else f"  (+{median - base:.0f} ms over the interpreter)"
        base = median if base is None else base
        print(f"{median:7.1f} ms  {label}{extra}")
    print("\nslowest top-level imports of `import openprotocols` (cumulative):")
    for micros, name in slowest_modules("import openprotocols"):
        print(f"{micros / 1000:7.1f} ms  {name}")


if __name__ == "__main__":
    main()
