"""The browser test, run again and again while other processes keep every core busy (a second kernel, a browser):
it must stay green. A red run's pytest output goes to result/browser/FAILED-run<i>.log.
Usage: python -m bench.browser [--runs 10] [--busy 2]"""
import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

from bench.load import busy


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=10)
    ap.add_argument("--busy", type=int, default=os.cpu_count(), help="spinning processes (default: one per core)")
    args = ap.parse_args()
    env = {**os.environ, "MORPHLIB_REQUIRE_BROWSER": "1"}
    cmd = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests/test_browser.py"]
    green = 0
    with busy(args.busy):
        for i in range(1, args.runs + 1):
            start = time.perf_counter()
            run = subprocess.run(cmd, env=env, capture_output=True, text=True)
            green += run.returncode == 0
            if run.returncode:  # what failed, beside the test's own FAILED-*.png and server log
                Path("result/browser").mkdir(parents=True, exist_ok=True)
                Path(f"result/browser/FAILED-run{i}.log").write_text(run.stdout + run.stderr)
            last = run.stdout.strip().splitlines()[-1] if run.stdout.strip() else run.stderr[-200:]
            print(f"run {i}: {'green' if run.returncode == 0 else 'RED'} in {time.perf_counter() - start:.0f} s, "
                  f"load average {os.getloadavg()[0]:.1f}: {last}", flush=True)
    print(f"{green} of {args.runs} green with {args.busy} busy processes")
    return 0 if green == args.runs else 1


if __name__ == "__main__":
    sys.exit(main())
