"""Benchmark Spark: a groupBy-aggregate over 10^7 rows through Connect, in local PySpark and in R on two workers.

Usage: ``.venv/bin/python -m tools.bench_spark [--rows 10000000] [--write BENCHMARKS.md]``.
One run measures the three side by side on this machine: the rendered Spark
roles (master, two workers, Connect server) as local processes queried from
the session's client; PySpark ``local[2]`` in one process; the same work in
R with ``future_lapply`` over kubepar's two dialing workers. Time is the
query's median over three rounds after a warm-up; memory is the peak of
everything the variant runs (its JVMs, R processes, client) together.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import subprocess
import tempfile
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.conftest import program
from tools.bench import PROGRAMS, local_cran, machine, r_session_with_two_workers
from tools.bench_hub import write
from tools.harness.spark import CLIENT_VENV, SERVER_VENV, LocalSpark, missing

SECTION = "## 9. Spark: a groupBy-aggregate through Connect, in local PySpark and in R"
SETTINGS = {"workers": 2, "workerMemory": "2Gi", "driverMemory": "1Gi"}


def _descendants_rss(root: int) -> int:
    """Resident bytes of every process below ``root`` (not ``root`` itself)."""
    children: dict[int, list[int]] = {}
    rss: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            pages = int((entry / "statm").read_text().split()[1])
        except (OSError, IndexError, ValueError):
            continue
        children.setdefault(int(fields[1]), []).append(int(entry.name))
        rss[int(entry.name)] = pages * os.sysconf("SC_PAGE_SIZE")
    total, stack = 0, list(children.get(root, []))
    while stack:
        pid = stack.pop()
        total += rss.get(pid, 0)
        stack.extend(children.get(pid, []))
    return total


@contextmanager
def peak_memory() -> Iterator[Callable[[], int]]:
    """Samples the resident memory of this process's descendants; yields a reader of the peak."""
    peak = [0]
    done = threading.Event()

    def sample() -> None:
        while not done.wait(0.1):
            peak[0] = max(peak[0], _descendants_rss(os.getpid()))

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    try:
        yield lambda: peak[0]
    finally:
        done.set()
        sampler.join()


def _seconds(out: str) -> float:
    return float(next(line.split()[1] for line in out.splitlines() if line.startswith("seconds")))


def connect(rows: int, folder: Path) -> tuple[float, int]:
    capture = program("local", engine="dask", packages="[]", spark=json.dumps(SETTINGS))
    with peak_memory() as peak:
        cluster = LocalSpark(capture, folder)
        try:
            cluster.start(workers=2)
            env = {**cluster.session_env("notebook"), "PYTHONPATH": str(folder / "scripts")}
            code = (PROGRAMS / "spark_groupby.py").read_text()
            done = cluster.client(f"import sys; sys.argv = ['x', 'connect', '{rows}']\n{code}", env)
            if done.returncode != 0:
                raise RuntimeError(f"{done.stderr[-3000:]}\n{cluster.logs()}")
        finally:
            cluster.stop_all()
        return _seconds(done.stdout), peak()


def local_pyspark(rows: int) -> tuple[float, int]:
    with peak_memory() as peak:
        out = subprocess.run(
            [str(SERVER_VENV / "bin" / "python"), str(PROGRAMS / "spark_groupby.py"), "local", str(rows)],
            capture_output=True,
            text=True,
            check=True,
            timeout=1200,
        ).stdout
        return _seconds(out), peak()


def r_two_workers(rows: int) -> tuple[float, int]:
    cran = local_cran()
    with peak_memory() as peak:
        out = r_session_with_two_workers("spark_groupby.R", cran, raw=True, env={"KUBEPAR_BENCH_ROWS": str(rows)})
        return _seconds(out), peak()


def section(rows: int, results: dict[str, tuple[float, int]]) -> str:
    today = datetime.date.today().isoformat()
    lines = [
        SECTION,
        "",
        f"Command: `.venv/bin/python -m tools.bench_spark --rows {rows} --write BENCHMARKS.md`, {today}, on "
        f"{machine()}, Java 17 (Debian), pyspark 4.1.2 and pyspark-client 4.1.2.",
        "",
        f"{rows:,} ids, key `id % 1000`, count and sum per key, collected. Measured side by side in one run; "
        "time is the query's median over three rounds after a warm-up (JVM and worker start-up excluded); "
        "memory is the peak of everything the variant runs together. Connect: the rendered master, two "
        "workers (1 core, 2Gi each) and Connect server (1Gi) as local processes, queried through "
        "`kubepar.spark()`. All three share this machine's two cores, so the two workers run at most as fast "
        "as `local[2]`; on a cluster each worker has its own cores.",
        "",
        "| variant | query time | peak memory | time vs local[2] |",
        "|---|---|---|---|",
    ]
    base = results["PySpark local[2]"][0]
    for name, (seconds, memory) in results.items():
        lines.append(f"| {name} | {seconds:.2f} s | {memory / 1024**2:.0f} MiB | {seconds / base:.2f} |")
    return "\n".join(lines) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=10**7)
    parser.add_argument("--write", type=Path)
    args = parser.parse_args()
    reason = missing()
    if reason is not None:
        parser.error(reason)
    assert CLIENT_VENV.exists()
    results: dict[str, tuple[float, int]] = {}
    with tempfile.TemporaryDirectory(prefix="kubepar-bench-spark-") as folder:
        results["Spark Connect, two workers"] = connect(args.rows, Path(folder))
    results["PySpark local[2]"] = local_pyspark(args.rows)
    results["R future_lapply, two kubepar workers"] = r_two_workers(args.rows)
    text = section(args.rows, results)
    print(text)
    if args.write:
        write(args.write, text, SECTION)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
