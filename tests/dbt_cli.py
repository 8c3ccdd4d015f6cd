"""dbt as the tests run it: a child process, its warehouse home given through a link that keeps
one name for every home, so that a new home does not cost a full parse of the project.

dbt reuses its saved parse (partial parsing) only while the state it was parsed in holds: the
profile's connection (the DuckDB file's path, under TIERING_HOME), the env vars dbt_project.yml
reads (TIERING_HOME again) and the --vars. Every test that builds in its own home changed the
first two, and each of those parses cost 15-20 s under `make test`. Here the child sees
TIERING_HOME as this worker's link (`<tmp>/tiering-dbt-home-<pid>`), pointed at the test's home
before each run, and a target folder without a parse starts from the last parse of the same
project folder with the same --vars. dbt checks that parse against the files and the state as
always, and parses again what changed (all of it if the state differs).

Tests run one at a time in a worker process (pytest-xdist), so one link per process is enough.
Python code the tests call in-process (ingest, the pipeline) is given the real home, as before.

The dbt command is `tiering-dbt` with this worker's warm dbt server (tiering/dbt_warm.py), as
the pipeline runs it: each command forks from a process that imported dbt once, instead of
spending 3-4 s importing it again.
"""

from __future__ import annotations

import atexit
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from tiering.config import PROJECT_DIR
from tiering.dbt_warm import SOCKET_ENVIRONMENT, ensure_server

DBT = str(Path(sys.executable).parent / "tiering-dbt")
PARSE_FILE = "partial_parse.msgpack"
# (project folder, --vars) -> the newest target folder with a parse: other vars, another parse
_last_parse: dict[tuple[Path, str], Path] = {}


def home_link(home: Path) -> Path:
    """This process's stable name for `home`, pointed at it now."""
    link = Path(tempfile.gettempdir()) / f"tiering-dbt-home-{os.getpid()}"
    home = Path(home).resolve()
    if link.is_symlink() and Path(os.readlink(link)) == home:
        return link
    if not link.is_symlink():
        atexit.register(link.unlink, missing_ok=True)
    staged = link.with_name(f"{link.name}.new")
    staged.unlink(missing_ok=True)
    staged.symlink_to(home, target_is_directory=True)
    staged.replace(link)  # atomic: the link always names one home
    return link


def run_dbt(home: Path, *args: str, project: Path = PROJECT_DIR, target_path: Path | None = None,
            env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    """`dbt <args> --project-dir <project> --profiles-dir <project>` over the warehouse in
    `home`; its artifacts in `target_path` (default home/target), its log in home/logs. `env`
    is the child's environment (default: this process's) before the dbt settings go in."""
    project = Path(project).resolve()
    target_path = Path(target_path or home / "target")
    saved = target_path / PARSE_FILE
    state = (project, args[args.index("--vars") + 1] if "--vars" in args else "{}")
    last = _last_parse.get(state)
    if not saved.exists() and last is not None and (last / PARSE_FILE).exists():
        target_path.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(last / PARSE_FILE, saved)
    child = warm({**(os.environ if env is None else env), "TIERING_HOME": str(home_link(home)),
                  "DBT_TARGET_PATH": str(target_path), "DBT_LOG_PATH": str(Path(home) / "logs")})
    result = subprocess.run([DBT, *args, "--project-dir", str(project),
                             "--profiles-dir", str(project)],
                            cwd=project, env=child, capture_output=True, text=True)
    if saved.exists():
        _last_parse[state] = target_path
    return result


def warm(env: dict[str, str]) -> dict[str, str]:
    """`env` naming this worker's warm dbt server, for DBT to fork from."""
    server = ensure_server()
    return {**env, SOCKET_ENVIRONMENT: server} if server else env
