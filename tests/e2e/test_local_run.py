"""``pactwatch run`` (what ``make run`` calls): the whole pipeline from one command on an
embedded Redis, the bundled samples alerting, the commands pointed at the run by the file it
writes, and a clean stop on Ctrl-C that leaves no stale pointer behind."""

from __future__ import annotations

import json
import os
import shlex
import signal
import stat
import subprocess
import sys
from pathlib import Path

from tests.support import ROOT, free_port, wait_until

# what a user's shell may hold that would point the run elsewhere
_OUTSIDE = (
    "REDIS_URL",
    "INDEX_URL",
    "PACTWATCH_API_KEY",
    "PACTWATCH_API_KEYS",
    "PACTWATCH_INGEST_URL",
    "PACTWATCH_INDEXER_URL",
    "PACTWATCH_NOTIFIER_URL",
)


def _exports(path: Path) -> dict[str, str]:
    out = {}
    for line in path.read_text("utf-8").splitlines():
        name, _, value = line.removeprefix("export ").partition("=")
        (out[name],) = shlex.split(value)
    return out


def test_the_local_run_alerts_on_its_samples_and_the_commands_reach_it(tmp_path: Path) -> None:
    data = tmp_path / "state"
    output = tmp_path / "run.log"
    env = {k: v for k, v in os.environ.items() if k not in _OUTSIDE}
    env.update(
        # the Procfile's alert printer is the ``pactwatch`` script of this environment
        PATH=f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}",
        PACTWATCH_INGEST_PORT=str(free_port()),
        PACTWATCH_INDEXER_PORT=str(free_port()),
        PACTWATCH_NOTIFIER_PORT=str(free_port()),
        PACTWATCH_FEEDS_ENABLED="false",
    )
    command = [sys.executable, "-m", "pactwatch_cli", "run", "--data-dir", str(data)]
    run = subprocess.Popen(
        command,
        cwd=ROOT,
        env=env,
        stdout=output.open("wb"),
        stderr=subprocess.STDOUT,
        start_new_session=True,  # Ctrl-C reaches the whole group, as in a terminal
    )

    def log() -> str:
        return output.read_text("utf-8", errors="replace")

    try:
        wait_until(lambda: "ingested the samples" in log(), timeout=240, what=f"samples\n{log()}")
        # the Procfile's alert printer shows the seed article's agreement
        wait_until(lambda: "AZE Azerbaijan" in log(), timeout=120, what=f"an alert\n{log()}")
        env_file = data / "env"
        assert stat.S_IMODE(env_file.stat().st_mode) == 0o600  # it holds the API key
        exported = _exports(env_file)
        assert exported["PACTWATCH_API_KEY"] == (data / "api-key").read_text("utf-8").strip()
        assert exported["PACTWATCH_INGEST_URL"].endswith(env["PACTWATCH_INGEST_PORT"])
        status = subprocess.run(
            [sys.executable, "-m", "pactwatch_cli", "status", "--json"],
            env={**env, **exported},
            capture_output=True,
            timeout=60,
            check=False,
        )
        assert status.returncode == 0, status.stderr.decode()
        document = json.loads(status.stdout)
        assert document["redis"] == exported["REDIS_URL"]
        ingested = next(s for s in document["streams"] if s["name"] == "articles.ingested")
        assert ingested["length"] >= 10  # the bundled samples
    finally:
        if run.poll() is None:
            os.killpg(run.pid, signal.SIGINT)
        try:
            run.wait(90)
        except subprocess.TimeoutExpired:
            os.killpg(run.pid, signal.SIGKILL)
            run.wait()
    assert run.returncode == 0, log()[-4000:]
    assert not (data / "env").exists()  # its Redis port went with the run
    assert "embedded Redis stopped" in log()
