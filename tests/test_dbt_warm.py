"""`tiering-dbt` forked from a warm server runs dbt as `dbt` would (tiering/dbt_warm.py).

A small dbt project of its own (one DuckDB file) shows each promise: the fork takes on the
command's arguments, working directory and environment, its output and exit status come back,
a signal to tiering-dbt reaches the fork, a fork whose tiering-dbt is killed is interrupted,
without a server the command starts cold, and the server ends with the process that started it.
Whether a command was forked shows in dbt's own JSON log lines: each carries the pid of the
process that runs dbt, the tiering-dbt process itself when it started cold.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import duckdb
import pytest

from dbt_cli import DBT, warm
from tiering.dbt_warm import SOCKET_ENVIRONMENT, SWITCH_ENVIRONMENT

PROJECT = {
    "dbt_project.yml": """
        name: warm_probe
        version: "1.0"
        profile: probe
        model-paths: ["models"]
    """,
    "profiles.yml": """
        probe:
          target: dev
          outputs:
            dev:
              type: duckdb
              path: "{{ env_var('PROBE_DB') }}"
              threads: 1
    """,
    "models/echo.sql": "select '{{ env_var(\"PROBE_VALUE\") }}' as value",
    "models/broken.sql": "select * from no_such_table",
    # long enough to be interrupted (minutes), short of hanging a broken test for ever
    "models/slow.sql": "{{ config(materialized='table') }}\n"
                       "select sum(range % 7) as n from range(50000000000)",
}


@pytest.fixture
def project(tmp_path: Path) -> Path:
    for name, text in PROJECT.items():
        path = tmp_path / "probe" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text).strip() + "\n", encoding="utf-8")
    return tmp_path / "probe"


def environment(project: Path, value: str, *, warm_start: bool = True) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items()
           if key not in (SOCKET_ENVIRONMENT, SWITCH_ENVIRONMENT)}
    env.update(PROBE_DB=str(project / "probe.duckdb"), PROBE_VALUE=value)
    return warm(env) if warm_start else {**env, SWITCH_ENVIRONMENT: "0"}


def dbt(project: Path, env: dict[str, str], *args: str) -> tuple[int, set[int], str, int]:
    """Run tiering-dbt in `project` (its working directory: no --project-dir, no
    --profiles-dir); (exit code, pids in dbt's log lines, all output, tiering-dbt's pid)."""
    process = subprocess.Popen([DBT, *args, "--log-format", "json"], cwd=project, env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    out, err = process.communicate(timeout=300)
    return process.returncode, log_pids(out), out + err, process.pid


def log_pids(output: str) -> set[int]:
    pids = set()
    for line in output.splitlines():
        if line.startswith("{"):
            pids.add(json.loads(line)["info"]["pid"])
    return pids


def value_built(project: Path) -> str:
    with duckdb.connect(str(project / "probe.duckdb"), read_only=True) as con:
        return con.execute("select value from main.echo").fetchone()[0]


def test_a_warm_command_is_a_fork_that_takes_on_directory_environment_and_exit_status(
        project: Path) -> None:
    code, pids, output, client = dbt(project, environment(project, "warm"), "run",
                                     "--select", "echo")
    assert code == 0, output[-3000:]
    assert len(pids) == 1 and client not in pids, (pids, client)  # dbt ran in another process
    assert value_built(project) == "warm"  # the environment and the working directory reached it

    code, pids, output, client = dbt(project, environment(project, "cold", warm_start=False),
                                     "run", "--select", "echo")
    assert code == 0, output[-3000:]
    assert pids == {client}  # TIERING_DBT_WARM=0: dbt in tiering-dbt's own process
    assert value_built(project) == "cold"

    for warm_start in (True, False):  # a failing model: dbt's exit code 1 either way
        code, _, output, _ = dbt(project, environment(project, "x", warm_start=warm_start),
                                 "run", "--select", "broken")
        assert code == 1 and "no_such_table" in output, output[-3000:]


def test_a_usage_error_reads_as_dbt_s_own(project: Path) -> None:
    outputs = []
    for warm_start in (True, False):
        result = subprocess.run([DBT, "no-such-command"], cwd=project, capture_output=True,
                                text=True, env=environment(project, "x", warm_start=warm_start))
        assert result.returncode == 2, result.stderr
        outputs.append((result.stdout, result.stderr))
    assert outputs[0] == outputs[1]
    assert "Usage: dbt [OPTIONS]" in outputs[0][1]


def test_without_a_reachable_server_the_command_starts_cold(project: Path) -> None:
    env = {**environment(project, "gone"), SOCKET_ENVIRONMENT: str(project / "gone.sock")}
    code, pids, output, client = dbt(project, env, "run", "--select", "echo")
    assert code == 0, output[-3000:]
    assert pids == {client}
    assert value_built(project) == "gone"


def start_slow_model(project: Path) -> tuple[subprocess.Popen, int]:
    """tiering-dbt building the slow model, once dbt has started it; and the fork's pid."""
    process = subprocess.Popen([DBT, "run", "--select", "slow", "--log-format", "json"],
                               cwd=project, env=environment(project, "slow"),
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    assert process.stdout is not None
    fork = None
    for line in process.stdout:
        if line.startswith("{"):
            event = json.loads(line)
            fork = event["info"]["pid"]
            if event["info"]["name"] == "LogStartLine":
                break
    if fork is None or fork == process.pid:
        process.kill()
        raise AssertionError("dbt did not start the slow model in a fork")
    time.sleep(1.0)  # the query is running
    return process, fork


def ended(pid: int, within: float) -> bool:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if not Path(f"/proc/{pid}").exists():
            return True
        time.sleep(0.1)
    return False


def test_an_interrupt_reaches_the_fork_and_a_fork_without_its_command_is_interrupted(
        project: Path) -> None:
    process, fork = start_slow_model(project)
    try:
        process.send_signal(signal.SIGINT)  # what dagster-dbt sends to stop dbt
        rest = process.communicate(timeout=120)[0]
        assert process.returncode == 2, rest[-3000:]  # as dbt started cold ends when interrupted
        assert ended(fork, 30)
    finally:
        stop(process, fork)

    process, fork = start_slow_model(project)
    try:
        process.kill()  # tiering-dbt gone without a word: the fork must not run on
        process.wait()
        assert ended(fork, 120)
    finally:
        stop(process, fork)


def stop(process: subprocess.Popen, fork: int) -> None:
    process.kill()
    if not ended(fork, 0.1):
        os.kill(fork, signal.SIGKILL)


STARTER = """
import sys, time
import tiering.dbt_warm as warm
path = warm.ensure_server()
print(warm._server[0].pid, path, flush=True)
if sys.argv[1] == "wait":
    time.sleep(600)
"""


@pytest.mark.parametrize("how", ["exits", "is killed"])
def test_the_server_ends_with_the_process_that_started_it(how: str) -> None:
    env = {key: value for key, value in os.environ.items()
           if key not in (SOCKET_ENVIRONMENT, SWITCH_ENVIRONMENT)}
    starter = subprocess.Popen([sys.executable, "-c", STARTER,
                                "exit" if how == "exits" else "wait"],
                               stdout=subprocess.PIPE, text=True, env=env)
    assert starter.stdout is not None
    server, path = starter.stdout.readline().split()
    assert Path(path).exists() and not ended(int(server), 0.1)
    if how == "is killed":
        starter.kill()  # no clean-up of its own: the server sees its pipe close
    starter.wait(timeout=60)
    assert ended(int(server), 30)
    assert not Path(path).exists()
