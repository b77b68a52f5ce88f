"""Optional sampling profiles of the services while they are being measured (py-spy).

``BENCH_PROFILE=deduplicator,extractor make bench`` attaches ``py-spy record`` to each
replica of the named services during the timed part of every run they take part in, and
writes, under ``.bench/profiles/<run>/``, the collapsed stacks (``<service>-<n>.txt``, for
flame graph tools) and a summary of where the time went (``<service>-<n>.summary.txt``).
py-spy is not a dependency of the project: install it where you like (``uv tool install
py-spy``) and put it on PATH, or name it with ``BENCH_PY_SPY``. py-spy needs the right to
ptrace the services (root, or ``kernel.yama.ptrace_scope=0``).
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path

from tests.support import ROOT, Service

PROFILES = ROOT / ".bench" / "profiles"
RATE = 100
"""Samples per second: enough for shares to a percent over a few seconds, cheap to take."""


def wanted() -> set[str]:
    """The services BENCH_PROFILE names."""
    return {s.strip() for s in os.environ.get("BENCH_PROFILE", "").split(",") if s.strip()}


def py_spy() -> str | None:
    return os.environ.get("BENCH_PY_SPY") or shutil.which("py-spy")


@contextmanager
def profiled(run: str, started: Mapping[str, Sequence[Service]]) -> Iterator[None]:
    """Profile the wanted services of ``started`` while the block runs."""
    names = wanted() & set(started)
    binary = py_spy()
    if not names:
        yield
        return
    if binary is None:
        raise RuntimeError("BENCH_PROFILE is set but py-spy is not on PATH (or BENCH_PY_SPY)")
    out = PROFILES / run
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    recorders: list[tuple[subprocess.Popen[bytes], Path]] = []
    for name in sorted(names):
        for n, service in enumerate(started[name]):
            path = out / f"{name}-{n}.txt"
            command = [
                binary,
                "record",
                "--pid",
                str(service.process.pid),
                "--rate",
                str(RATE),
                "--format",
                "raw",
                "--nonblocking",
                "--output",
                str(path),
            ]
            log = (out / f"{name}-{n}.py-spy.log").open("wb")
            recorders.append(
                (subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT), path)
            )
    try:
        yield
    finally:
        for process, _ in recorders:
            process.send_signal(signal.SIGINT)
        for process, path in recorders:
            process.wait(120)
            if path.exists():
                path.with_suffix(".summary.txt").write_text(summarise(path), "utf-8")


def _function(frame: str) -> str:
    # "judge (pactwatch_deduplicator/judging.py:140)" -> "judge (pactwatch_deduplicator/judging.py)"
    name, _, where = frame.partition(" (")
    return f"{name} ({where.rsplit(':', 1)[0]})" if where else name


def summarise(path: Path, top: int = 30) -> str:
    """Where the samples of a collapsed-stack file went: by function including callees
    (the share of samples a function was on the stack) and by function alone."""
    inclusive: Counter[str] = Counter()
    own: Counter[str] = Counter()
    total = 0
    for line in path.read_text("utf-8", errors="replace").splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        samples = int(count)
        frames = [_function(f) for f in stack.split(";") if f]
        total += samples
        for function in set(frames):
            inclusive[function] += samples
        if frames:
            own[frames[-1]] += samples
    if not total:
        return "no samples\n"
    lines = [f"{total} samples at {RATE}/s ({total / RATE:.1f} s of CPU on sampled threads)", ""]
    lines.append("on the stack (self + callees):")
    lines += [f"  {n / total:6.1%}  {f}" for f, n in inclusive.most_common(top)]
    lines += ["", "itself (self time):"]
    lines += [f"  {n / total:6.1%}  {f}" for f, n in own.most_common(top)]
    return "\n".join(lines) + "\n"
