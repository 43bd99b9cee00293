"""The embedded PostgreSQL + PostGIS cluster.

With ``GEO_SERVICE_DATABASE_URL`` unset the service owns a private cluster under ``$GEO_SERVICE_HOME``:

- ``pgdata/``  the data directory (``initdb`` on first use, UTF-8, ``C.UTF-8`` locale so that pg_trgm
  treats CJK characters as word characters);
- ``run/``     the Unix socket (no TCP listener at all);
- ``log/``     the server log.

PostgreSQL refuses to run as root, so when we are root every server command runs as the ``postgres``
OS user, which owns ``pgdata``, ``run`` and ``log``.

Roles (:mod:`geo_service.db.roles`): the bootstrap superuser (``db_superuser``, ``postgres``) only sets up; the
owner role runs migrations; the service connects as the runtime role, which owns nothing. Clusters made before
the split have ``geo_service`` as their superuser; :meth:`Cluster.superuser` finds it.
Authentication is ``trust`` on a socket only the server's OS user (and root) may open (mode 0700).
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import pwd
import re
import shutil
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psycopg2
from psycopg2.extensions import make_dsn

from geo_service.db import roles
from geo_service.db.rows import fetch_one
from geo_service.i18n import message
from geo_service.settings import DatabaseSettings

SERVER_PACKAGE = "postgresql-15-postgis-3"
PORT = 5432
_SOCKET_PATH_MAX = 90  # sun_path is 108 bytes and PostgreSQL appends "/.s.PGSQL.5432"
_CONF_NAME = "geo_service.conf"
PG_ROOT = Path("/usr/lib/postgresql")  # where Debian installs each major version's binaries
LEGACY_SUPERUSER = "geo_service"  # bootstrap superuser of clusters made before the roles were split


class ClusterError(RuntimeError):
    """A problem with the embedded cluster, with a message that says what to do: a catalogue ``code`` and its
    values (shown by the CLI in its language; ``str()`` is the English text, for logs)."""

    def __init__(self, code: str, **params: object) -> None:
        self.message = message(code, **params)
        super().__init__(self.message.render("en"))


@dataclass(frozen=True)
class ClusterStatus:
    running: bool
    pid: int | None
    data_dir: Path
    socket_dir: Path
    initialised: bool
    data_version: str | None
    server_version: str | None


def find_pg_bin(settings: DatabaseSettings) -> Path:
    """Folder holding ``initdb``, ``pg_ctl`` and ``postgres``; a ClusterError naming the package if absent."""
    candidates: list[Path] = []
    if settings.pg_bin:
        candidates.append(Path(settings.pg_bin))
    candidates.append(PG_ROOT / str(settings.pg_major) / "bin")
    candidates.extend(sorted(PG_ROOT.glob("*/bin"), reverse=True))
    found = shutil.which("pg_ctl")
    if found:
        candidates.append(Path(found).resolve().parent)
    for folder in candidates:
        if all((folder / name).is_file() for name in ("initdb", "pg_ctl", "postgres")):
            return folder
    raise ClusterError("cluster.no_binaries", package=SERVER_PACKAGE)


class Cluster:
    """A private PostgreSQL cluster under ``home``; every method is safe to call in any state."""

    def __init__(self, settings: DatabaseSettings) -> None:
        self.settings = settings
        self.home = Path(settings.home).absolute()
        self.data_dir = self.home / "pgdata"
        self.log_dir = self.home / "log"
        self.socket_dir = self._socket_dir()
        self._pg_bin: Path | None = None
        self._as_postgres = os.geteuid() == 0
        self._superuser: str | None = None

    # -- paths and identities ------------------------------------------------------------------------------

    def _socket_dir(self) -> Path:
        preferred = self.home / "run"
        if len(str(preferred)) <= _SOCKET_PATH_MAX:
            return preferred
        digest = hashlib.sha1(str(self.home).encode()).hexdigest()[:12]
        return Path("/tmp") / f"geo-service-{digest}"

    @property
    def pg_bin(self) -> Path:
        if self._pg_bin is None:
            self._pg_bin = find_pg_bin(self.settings)
        return self._pg_bin

    @property
    def log_file(self) -> Path:
        return self.log_dir / "postgres.log"

    def dsn(self, dbname: str | None = None, user: str | None = None) -> str:
        """DSN of ``dbname`` (the service database by default) as ``user`` (the runtime role by default)."""
        return make_dsn(
            host=str(self.socket_dir),
            port=PORT,
            dbname=dbname or self.settings.db_name,
            user=user or self.settings.db_user,
            connect_timeout=self.settings.connect_timeout_s,
        )

    def superuser(self) -> str:
        """The cluster's bootstrap superuser: ``db_superuser``, or ``geo_service`` in a cluster made before the
        roles were split."""
        if self._superuser is None:
            for name in dict.fromkeys((self.settings.db_superuser, LEGACY_SUPERUSER)):
                try:
                    dsn = self.dsn("postgres", user=name)
                    with contextlib.closing(psycopg2.connect(dsn)) as conn, conn.cursor() as cur:
                        cur.execute("SELECT rolsuper FROM pg_roles WHERE rolname = current_user")
                        if fetch_one(cur)[0]:
                            self._superuser = name
                            break
                except psycopg2.OperationalError as exc:
                    if "does not exist" not in str(exc):
                        raise ClusterError("cluster.cannot_connect", reason=str(exc).strip()) from exc
            else:
                raise ClusterError("cluster.no_superuser", data_dir=self.data_dir)
        return self._superuser

    def admin_dsn(self, dbname: str = "postgres") -> str:
        """DSN as the superuser: set-up only (roles, databases, extensions), never the service."""
        return self.dsn(dbname, user=self.superuser())

    def _run(
        self, args: list[str], check: bool = True, timeout: float = 120
    ) -> subprocess.CompletedProcess[str]:
        kwargs: dict = {"capture_output": True, "text": True, "timeout": timeout, "cwd": str(self.home)}
        if self._as_postgres:
            kwargs.update(user="postgres", group="postgres", env={**os.environ, "HOME": str(self.home)})
        result = subprocess.run(args, check=False, **kwargs)
        if check and result.returncode != 0:
            raise ClusterError(
                "cluster.command_failed",
                command=Path(args[0]).name,
                output=(result.stderr or result.stdout).strip(),
            )
        return result

    def _own(self, path: Path) -> None:
        """Create ``path`` (mode 0700) owned by whoever runs the server."""
        path.mkdir(parents=True, exist_ok=True)
        if self._as_postgres:
            entry = pwd.getpwnam("postgres")
            os.chown(path, entry.pw_uid, entry.pw_gid)
        path.chmod(0o700)

    def _check_reachable(self) -> None:
        if not self._as_postgres:
            return
        try:
            pwd.getpwnam("postgres")
        except KeyError as exc:
            raise ClusterError("cluster.no_postgres_user", package=SERVER_PACKAGE) from exc
        for parent in [self.home, *self.home.parents]:
            if parent.exists() and not (parent.stat().st_mode & 0o001):
                raise ClusterError("cluster.home_unreachable", folder=parent)

    @contextlib.contextmanager
    def _lock(self) -> Iterator[None]:
        """Serialise start/stop between processes (a server and a CLI starting at once)."""
        self.home.mkdir(parents=True, exist_ok=True)
        with open(self.home / "cluster.lock", "a+") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    # -- versions ------------------------------------------------------------------------------------------

    def server_version(self) -> str:
        out = subprocess.run(
            [str(self.pg_bin / "postgres"), "--version"], capture_output=True, text=True
        ).stdout
        match = re.search(r"(\d+)(?:\.(\d+))?", out)
        if not match:
            raise ClusterError("cluster.unknown_version", output=out)
        return match.group(0)

    def data_version(self) -> str | None:
        version_file = self.data_dir / "PG_VERSION"
        return version_file.read_text().strip() if version_file.is_file() else None

    def _check_versions(self) -> None:
        data_major = self.data_version()
        server_major = self.server_version().split(".")[0]
        if data_major is not None and data_major != server_major:
            raise ClusterError(
                "cluster.version_mismatch",
                data_dir=self.data_dir,
                data_major=data_major,
                server_major=server_major,
            )

    # -- state ---------------------------------------------------------------------------------------------

    def _postmaster_pid(self) -> int | None:
        """PID of our live postmaster, or None; a pid file whose process is gone or not ours is stale."""
        pid_file = self.data_dir / "postmaster.pid"
        try:
            pid = int(pid_file.read_text().splitlines()[0])
        except (FileNotFoundError, IndexError, ValueError, PermissionError):
            return None
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        except (FileNotFoundError, ProcessLookupError, PermissionError):
            return None
        if not cmdline or not Path(cmdline[0].decode(errors="replace")).name.startswith(
            ("postgres", "postmaster")
        ):
            return None
        try:
            status = Path(f"/proc/{pid}/status").read_text()
        except FileNotFoundError:
            return None
        if "State:\tZ" in status:
            return None
        return pid

    def _clear_stale_locks(self) -> None:
        """Remove lock files left by a server that died (kill -9, power loss) so the next start succeeds."""
        for stale in (self.data_dir / "postmaster.pid", self.socket_dir / f".s.PGSQL.{PORT}.lock"):
            with contextlib.suppress(FileNotFoundError):
                stale.unlink()
        with contextlib.suppress(FileNotFoundError):
            (self.socket_dir / f".s.PGSQL.{PORT}").unlink()

    def status(self) -> ClusterStatus:
        server_version = None
        with contextlib.suppress(ClusterError):
            server_version = self.server_version()
        pid = self._postmaster_pid()
        return ClusterStatus(
            running=pid is not None,
            pid=pid,
            data_dir=self.data_dir,
            socket_dir=self.socket_dir,
            initialised=(self.data_dir / "PG_VERSION").is_file(),
            data_version=self.data_version(),
            server_version=server_version,
        )

    def is_running(self) -> bool:
        return self._postmaster_pid() is not None

    def server_pids(self) -> list[int]:
        """The postmaster and every process it started (backends, checkpointer, WAL writer ...), postmaster
        first; empty when the server is not running. Fault tests stop and resume exactly these."""
        postmaster = self._postmaster_pid()
        if postmaster is None:
            return []
        children = []
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except (FileNotFoundError, ProcessLookupError, PermissionError, IndexError):
                continue
            if int(fields[1]) == postmaster:
                children.append(int(entry.name))
        return [postmaster, *sorted(children)]

    # -- lifecycle -----------------------------------------------------------------------------------------

    def initdb(self) -> bool:
        """Create the data directory on first use; True when it was created now."""
        if (self.data_dir / "PG_VERSION").is_file():
            return False
        if self.data_dir.exists() and any(self.data_dir.iterdir()):
            raise ClusterError("cluster.not_a_data_dir", data_dir=self.data_dir)
        self._check_reachable()
        self._own(self.data_dir)
        self._run(
            [
                str(self.pg_bin / "initdb"),
                "-D",
                str(self.data_dir),
                "-U",
                self.settings.db_superuser,
                "--auth=trust",
                "-E",
                "UTF8",
                "--locale=C.UTF-8",
            ]
        )
        with open(self.data_dir / "postgresql.conf", "a") as conf:
            conf.write(f"\ninclude_if_exists = '{_CONF_NAME}'\n")
        return True

    def _write_conf(self) -> None:
        """Settings rewritten on every start so a moved home still finds its socket."""
        conf = "\n".join(
            [
                "listen_addresses = ''",
                f"unix_socket_directories = '{self.socket_dir}'",
                "unix_socket_permissions = 0700",
                f"port = {PORT}",
                "max_connections = 200",
                "shared_buffers = 256MB",
                "work_mem = 32MB",
                "maintenance_work_mem = 256MB",
                "max_wal_size = 2GB",
                "logging_collector = off",
                "log_min_messages = warning",
                "",
            ]
        )
        path = self.data_dir / _CONF_NAME
        path.write_text(conf)
        if self._as_postgres:
            entry = pwd.getpwnam("postgres")
            os.chown(path, entry.pw_uid, entry.pw_gid)

    def start(self, timeout_s: float = 60) -> bool:
        """Start the server; False (and nothing done) when it is already running."""
        with self._lock():
            self.pg_bin  # noqa: B018 - fail early, naming the package, when the binaries are missing
            self._check_reachable()
            self._check_versions()
            if self.is_running():
                return False
            self.initdb()
            self._clear_stale_locks()
            self._own(self.socket_dir)
            self._own(self.log_dir)
            self._write_conf()
            deadline = time.monotonic() + timeout_s
            while True:
                result = self._run(
                    [
                        str(self.pg_bin / "pg_ctl"),
                        "-D",
                        str(self.data_dir),
                        "-l",
                        str(self.log_file),
                        "-w",
                        "-t",
                        str(int(timeout_s)),
                        "start",
                    ],
                    check=False,
                    timeout=timeout_s + 10,
                )
                if result.returncode == 0:
                    return True
                log_tail = self._log_tail()
                # After kill -9 the old backends hold shared memory for a moment; wait for them to exit.
                if "shared memory block" in log_tail and time.monotonic() < deadline:
                    time.sleep(0.5)
                    self._clear_stale_locks()
                    continue
                raise ClusterError("cluster.did_not_start", log=log_tail or result.stderr)

    def stop(self, timeout_s: float = 60) -> bool:
        """Stop the server cleanly; False when it was not running."""
        with self._lock():
            if not self.is_running():
                return False
            self._run(
                [
                    str(self.pg_bin / "pg_ctl"),
                    "-D",
                    str(self.data_dir),
                    "-m",
                    "fast",
                    "-w",
                    "-t",
                    str(int(timeout_s)),
                    "stop",
                ],
                timeout=timeout_s + 10,
            )
            return True

    def init_standby(self, primary: Cluster, timeout_s: float = 600) -> None:
        """Make this (not yet initialised) cluster a hot standby of ``primary``: ``pg_basebackup -R`` over the
        primary's socket, as its superuser, so that :meth:`start` runs it in streaming replication. The
        primary's embedded defaults already allow it (``wal_level=replica``, ``local replication`` in
        ``pg_hba.conf``)."""
        with self._lock():
            if (self.data_dir / "PG_VERSION").is_file():
                raise ClusterError("cluster.already_there", data_dir=self.data_dir)
            self._check_reachable()
            self._own(self.data_dir)
            self._run(
                [
                    str(self.pg_bin / "pg_basebackup"),
                    "-D",
                    str(self.data_dir),
                    "-R",
                    "-X",
                    "stream",
                    "-h",
                    str(primary.socket_dir),
                    "-p",
                    str(PORT),
                    "-U",
                    primary.superuser(),
                    "--checkpoint=fast",
                ],
                timeout=timeout_s,
            )

    def restart(self, timeout_s: float = 60) -> None:
        """Stop (fast: open transactions roll back) and start again in one step."""
        with self._lock():
            self._run(
                [
                    str(self.pg_bin / "pg_ctl"),
                    "-D",
                    str(self.data_dir),
                    "-l",
                    str(self.log_file),
                    "-m",
                    "fast",
                    "-w",
                    "-t",
                    str(int(timeout_s)),
                    "restart",
                ],
                timeout=2 * timeout_s + 10,
            )

    def _log_tail(self, lines: int = 20) -> str:
        try:
            return "\n".join(self.log_file.read_text(errors="replace").splitlines()[-lines:])
        except (FileNotFoundError, PermissionError):
            return ""

    def ensure_database(self, dbname: str | None = None) -> str:
        """Create the roles, the service database and its extensions if missing (as the superuser); return the
        runtime role's DSN."""
        dbname = dbname or self.settings.db_name
        roles.prepare_database(self.admin_dsn(), dbname, self.settings.db_owner, self.settings.db_user)
        return self.dsn(dbname)


def ensure_running(settings: DatabaseSettings) -> Cluster:
    """Start the embedded cluster if needed (the service and every CLI command call this)."""
    cluster = Cluster(settings)
    cluster.start()
    cluster.ensure_database()
    return cluster
