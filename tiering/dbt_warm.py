"""dbt started warm: dbt-core is imported once per run, and every dbt command forks from there.

Before a `dbt` command reads a file it spends 3-4 s importing dbt-core (mashumaro builds the
(de)serialisers of dbt's hundreds of dataclasses at import; docs/benchmarks.md). A refresh runs
dbt two or three times, a backfill that many per month, the test suite over a hundred times.

- `tiering-dbt` (a console script) is a drop-in for `dbt`: dagster-dbt and the tests start it
  with dbt's arguments. When TIERING_DBT_SERVER names the socket of a server, it hands the server
  its arguments, working directory, environment and standard streams; the server forks, the fork
  takes them on and runs dbt's own command-line entry point (what the `dbt` script runs), and
  its exit status comes back as tiering-dbt's. SIGINT, SIGTERM and SIGHUP sent to tiering-dbt
  (dagster-dbt interrupts dbt with SIGINT) go on to the fork, and a fork whose tiering-dbt is
  gone is interrupted. Without a server, or when it cannot be reached before dbt started,
  tiering-dbt replaces itself with `dbt`: the cold start, exactly as before.
- `ensure_server()` starts the calling process's server (once): a child process that imports
  dbt and its DuckDB adapter and then waits for requests; it ends when the process that started
  it ends (it watches a pipe from it). The pipeline starts it when a run starts, so that its
  import overlaps ingestion; dagster-dbt's resource (orchestration/project.py) on its first dbt
  command otherwise. TIERING_DBT_WARM=0 turns it off (every dbt command starts cold).

Each fork runs one dbt command and exits, as a `dbt` process would: the server itself never runs
dbt, so every fork starts from dbt as imported, with no state of an earlier command. What a
fork does not take on is what Python fixes when it starts: the hash seed, and the encoding of
the standard streams (the server's, which inherits the starting process's locale). The forks
are the server's children, so they stay in the process tree of the run (the benchmarks' peak
memory counts them).

This module imports only the standard library at the top: tiering-dbt's own start is a bare
Python start.
"""

from __future__ import annotations

import atexit
import json
import os
import selectors
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
import traceback
from pathlib import Path

SOCKET_ENVIRONMENT = "TIERING_DBT_SERVER"
SWITCH_ENVIRONMENT = "TIERING_DBT_WARM"
# modules a dbt command imports after dbt.cli.main; imported by the server before it serves
PRELOAD = ("dbt.cli.main", "dbt.adapters.duckdb", "dbt.task.build", "dbt.task.list")
HEADER = struct.Struct("!I")
STREAMS = 3  # stdin, stdout, stderr
FORWARDED_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
# how long tiering-dbt waits for the server to fork for it (the server imports dbt first)
FORK_WAIT_SECONDS = 300.0
BIND_WAIT_SECONDS = 30.0

_server: tuple[subprocess.Popen, str, str] | None = None


def dbt_script() -> str:
    """The `dbt` beside this Python (the project's virtualenv), else the one on PATH."""
    beside = Path(sys.executable).parent / "dbt"
    return str(beside) if beside.exists() else (shutil.which("dbt") or "dbt")


def warm_starts_enabled() -> bool:
    setting = os.environ.get(SWITCH_ENVIRONMENT, "1").strip().lower()
    return setting not in ("0", "false", "no", "off") and hasattr(socket, "send_fds")


# --- the process that runs dbt commands -----------------------------------------------------


def ensure_server() -> str | None:
    """This process's server, started if it is not running: the socket path, also set as
    TIERING_DBT_SERVER in this process's environment (the dbt commands it starts inherit it).
    None when warm starts are off (TIERING_DBT_WARM=0) or not possible here."""
    global _server
    if not warm_starts_enabled():
        return None
    if _server is not None and _server[0].poll() is None:
        os.environ[SOCKET_ENVIRONMENT] = _server[1]
        return _server[1]
    folder = tempfile.mkdtemp(prefix="tiering-dbt-")
    path = os.path.join(folder, "dbt.sock")
    process = subprocess.Popen(
        [sys.executable, "-m", "tiering.dbt_warm", "serve", path],
        stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, cwd=folder,
        env={key: value for key, value in os.environ.items() if key != SOCKET_ENVIRONMENT})
    _server = (process, path, folder)
    atexit.register(_stop, process, folder)
    # the server binds its socket before it imports dbt: wait for that (a fraction of a second),
    # so that a dbt command finding no socket knows there is no server and starts cold
    deadline = time.monotonic() + BIND_WAIT_SECONDS
    while not os.path.exists(path):
        if process.poll() is not None or time.monotonic() > deadline:
            stop_server()
            return None
        time.sleep(0.01)
    os.environ[SOCKET_ENVIRONMENT] = path
    return path


def stop_server() -> None:
    """Stop this process's server now (it also stops when this process ends)."""
    global _server
    if _server is not None:
        process, path, folder = _server
        _server = None
        _stop(process, folder)
        if os.environ.get(SOCKET_ENVIRONMENT) == path:
            del os.environ[SOCKET_ENVIRONMENT]


def _stop(process: subprocess.Popen, folder: str) -> None:
    if process.stdin is not None and not process.stdin.closed:
        process.stdin.close()  # the server's signal to stop
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
    shutil.rmtree(folder, ignore_errors=True)


# --- tiering-dbt ----------------------------------------------------------------------------


def main() -> None:
    """`tiering-dbt ARGS`: `dbt ARGS`, forked from the server when there is one."""
    arguments = sys.argv[1:]
    path = os.environ.get(SOCKET_ENVIRONMENT)
    if path and warm_starts_enabled():
        code = _run_through_server(path, arguments)
        if code is not None:
            sys.exit(code)
    script = dbt_script()
    sys.stdout.flush()
    sys.stderr.flush()
    os.execvp(script, [script, *arguments])


def _connect(path: str) -> socket.socket | None:
    """A connection to the server, or None when there is none (its process has ended)."""
    connection = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        connection.connect(path)
        return connection
    except OSError:
        connection.close()
        return None


def _run_through_server(path: str, arguments: list[str]) -> int | None:
    """dbt's exit code, or None when the server did not start dbt (then nothing ran)."""
    connection = _connect(path)
    if connection is None:
        return None
    with connection:
        request = json.dumps({"argv": [dbt_script(), *arguments], "cwd": os.getcwd(),
                              "env": dict(os.environ)}).encode("utf-8")
        try:
            socket.send_fds(connection, [HEADER.pack(len(request))], list(range(STREAMS)))
            connection.sendall(request)
            connection.settimeout(FORK_WAIT_SECONDS)
            reader = connection.makefile("rb")
            started = reader.readline()
        except OSError:
            return None
        if not started.startswith(b"P "):
            return None
        pid = int(started.split()[1])
        connection.settimeout(None)

        def forward(signum: int, _frame: object) -> None:
            try:
                os.kill(pid, signum)
            except ProcessLookupError:
                pass

        for signum in FORWARDED_SIGNALS:
            signal.signal(signum, forward)
        try:
            ended = reader.readline()
        except OSError:
            ended = b""
    if ended.startswith(b"X "):
        return int(ended.split()[1])
    print(f"tiering-dbt: dbt (process {pid}, forked by the server at {path}) ended without "
          "an exit status (killed?)", file=sys.stderr)
    return 1


# --- the server ---------------------------------------------------------------------------


def serve(path: str) -> None:
    """Bind `path`, import dbt, then fork a dbt command for each request until stdin closes."""
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(path)  # before importing: a request waits in the backlog, not for a socket
    listener.listen(64)
    for module in PRELOAD:
        try:
            __import__(module)
        except ImportError:
            if module == "dbt.cli.main":
                raise
    signal.signal(signal.SIGCHLD, _reap)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # a Ctrl-C reaches the forks, not the server
    selector = selectors.DefaultSelector()
    selector.register(listener, selectors.EVENT_READ)
    selector.register(sys.stdin.fileno(), selectors.EVENT_READ)
    try:
        while True:
            for key, _ in selector.select():
                if key.fileobj is listener:
                    connection, _ = listener.accept()
                    try:
                        _fork_for(connection, listener, selector)
                    except Exception:  # one bad request does not stop the server
                        traceback.print_exc()
                    finally:
                        connection.close()
                elif not os.read(sys.stdin.fileno(), 4096):
                    return  # the process that started the server has ended
    finally:
        selector.close()
        listener.close()
        try:
            os.unlink(path)
        except FileNotFoundError:
            pass


def _reap(_signum: int, _frame: object) -> None:
    """Wait for the forks that ended: their CPU time then counts in the server's children's
    (and the run's: `wait4` of a refresh), which a system-reaped fork's would not."""
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


def _receive_exactly(connection: socket.socket, size: int) -> bytes:
    chunks, received = [], 0
    while received < size:
        chunk = connection.recv(min(size - received, 1 << 20))
        if not chunk:
            raise ConnectionError("the request ended early")
        chunks.append(chunk)
        received += len(chunk)
    return b"".join(chunks)


def _fork_for(connection: socket.socket, listener: socket.socket,
              selector: selectors.BaseSelector) -> None:
    connection.settimeout(30)
    header, streams, _, _ = socket.recv_fds(connection, HEADER.size, STREAMS)
    try:
        if len(header) != HEADER.size or len(streams) != STREAMS:
            raise ConnectionError("not a tiering-dbt request")
        request = json.loads(_receive_exactly(connection, HEADER.unpack(header)[0]))
        sys.stdout.flush()
        sys.stderr.flush()
        if os.fork() == 0:
            _run_fork(connection, streams, request, listener, selector)  # does not return
    finally:
        for descriptor in streams:
            os.close(descriptor)


def _run_fork(connection: socket.socket, streams: list[int], request: dict,
              listener: socket.socket, selector: selectors.BaseSelector) -> None:
    code = 1
    finished = threading.Event()
    try:
        selector.close()
        listener.close()
        for target, descriptor in enumerate(streams):
            os.dup2(descriptor, target)
            os.close(descriptor)
        for signum in (signal.SIGCHLD, signal.SIGTERM, signal.SIGHUP):
            signal.signal(signum, signal.SIG_DFL)
        signal.signal(signal.SIGINT, signal.default_int_handler)
        connection.settimeout(None)
        connection.sendall(f"P {os.getpid()}\n".encode())
        os.chdir(request["cwd"])
        os.environ.clear()
        os.environ.update(request["env"])
        time.tzset()
        sys.argv = list(request["argv"])
        sys.stdout.reconfigure(line_buffering=sys.stdout.isatty())
        threading.Thread(target=_interrupt_when_gone, args=(connection, finished),
                         daemon=True).start()
        code = _run_dbt()
        atexit._run_exitfuncs()  # what ending the interpreter would run (multiprocessing's
        # clean-up of dbt's semaphores among them), as os._exit below does not
    except BaseException:  # noqa: BLE001 - reported, then the fork ends with code 1
        traceback.print_exc()
    finally:
        finished.set()
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except Exception:  # noqa: BLE001 - a closed pipe: nothing more to say
                pass
        try:
            connection.sendall(f"X {code}\n".encode())
        except OSError:
            pass
        os._exit(code)


def _interrupt_when_gone(connection: socket.socket, finished: threading.Event) -> None:
    """A fork whose tiering-dbt has gone (killed) is interrupted, as Ctrl-C interrupts dbt."""
    try:
        while connection.recv(1):
            pass
    except OSError:
        pass
    if not finished.is_set():
        os.kill(os.getpid(), signal.SIGINT)


def _run_dbt() -> int:
    """What the `dbt` console script does (`sys.exit(cli())`), as an exit code."""
    from dbt.cli.main import cli

    try:  # the program name click shows in usage lines: the script's, as when dbt runs it
        return _exit_code(cli(prog_name=os.path.basename(sys.argv[0])))
    except SystemExit as exit_:
        return _exit_code(exit_.code)
    except KeyboardInterrupt:
        traceback.print_exc()
        return 130


def _exit_code(value: object) -> int:
    if value is None:
        return 0
    if isinstance(value, int):
        return value & 0xFF
    print(value, file=sys.stderr)
    return 1


if __name__ == "__main__":
    if sys.argv[1:2] == ["serve"] and len(sys.argv) == 3:
        serve(sys.argv[2])
    else:
        sys.exit("usage: python -m tiering.dbt_warm serve SOCKET_PATH")
