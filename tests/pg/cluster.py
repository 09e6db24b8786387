"""A throwaway PostgreSQL cluster for the tests: initdb in a temporary directory, started on a free
loopback port, stopped and removed at the end of the session.

PostgreSQL refuses to run as root, so as root the cluster belongs to the ``postgres`` user (made by the
distribution's package) or, failing that, ``nobody``. Without PostgreSQL the tests that need it skip with
the reason, except in CI (``CI=true``), where that is a failure: CI installs it (.ci/run).
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

ADMIN = "mt_admin"  # the superuser, trusted on loopback: only the fixtures use it
APP = "mt_app"  # what mailtrap-lite logs in as, with a password
APP_PASSWORD = "app-secret"


def _bindir() -> Path | None:
    found = shutil.which("initdb")
    if found is not None and shutil.which("pg_ctl") is not None:
        return Path(os.path.realpath(found)).parent
    versions = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), reverse=True)
    return Path(versions[0]).parent if versions else None


def _as_owner(owner: pwd.struct_passwd | None, command: list[str]) -> list[str]:
    return command if owner is None else ["runuser", "-u", owner.pw_name, "--", *command]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class Cluster:
    host: str
    port: int
    directory: Path

    def dsn(self, database: str, *, user: str = APP, password: str | None = APP_PASSWORD) -> str:
        secret = f":{password}" if password is not None else ""
        return f"postgresql://{user}{secret}@{self.host}:{self.port}/{database}"

    def admin(self, sql: str, database: str = "postgres") -> list[tuple[object, ...]]:
        import psycopg

        with psycopg.connect(self.dsn(database, user=ADMIN, password=None), autocommit=True) as connection:
            cursor = connection.execute(sql)
            return cursor.fetchall() if cursor.description else []

    def create_database(self, name: str, *, extensions_allowed: bool = True) -> str:
        """A new empty database for ``APP``; returns its DSN. Without ``extensions_allowed`` the app may
        create tables but not extensions (no CREATE on the database), as on many managed services."""
        self.admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        owner = APP if extensions_allowed else ADMIN
        self.admin(f'CREATE DATABASE "{name}" OWNER {owner} TEMPLATE template0')
        self.admin(f"ALTER SCHEMA public OWNER TO {APP}", name)
        return self.dsn(name)

    def reset(self, name: str) -> None:
        """Empty a database made by ``create_database`` (the app's schema and any extension go too)."""
        self.admin(
            "DROP EXTENSION IF EXISTS pg_trgm CASCADE; DROP SCHEMA public CASCADE; "
            f"CREATE SCHEMA public AUTHORIZATION {APP}",
            name,
        )


def _start(bindir: Path) -> Iterator[Cluster]:
    owner = pwd.getpwnam("postgres" if _user_exists("postgres") else "nobody") if os.geteuid() == 0 else None
    # Not under pytest's own temporary directory: as root that is private to root.
    base = Path(tempfile.mkdtemp(prefix="mailtrap-pg-"))
    data, sockets = base / "data", base / "sockets"
    sockets.mkdir()
    if owner is not None:
        for path in (base, sockets):
            os.chown(path, owner.pw_uid, owner.pw_gid)
    port = _free_port()

    def run(*command: str) -> None:
        program = [str(bindir / command[0]), *command[1:]]
        subprocess.run(_as_owner(owner, program), check=True, capture_output=True, cwd=base)

    try:
        run("initdb", "-D", str(data), "-U", ADMIN, "-A", "trust", "-E", "UTF8", "--locale=C", "-N")
        hba = data / "pg_hba.conf"
        hba.write_text(
            f"local all {ADMIN} trust\nhost all {ADMIN} 127.0.0.1/32 trust\n"
            "host all all 127.0.0.1/32 scram-sha-256\n"
        )
        options = (
            f"-c listen_addresses=127.0.0.1 -c port={port} -c unix_socket_directories={sockets} "
            "-c fsync=off -c shared_buffers=32MB -c max_connections=200"
        )
        run("pg_ctl", "start", "-w", "-t", "60", "-D", str(data), "-l", str(base / "log"), "-o", options)
    except subprocess.CalledProcessError as error:
        shutil.rmtree(base, ignore_errors=True)
        raise RuntimeError(f"cannot start PostgreSQL: {error.stderr.decode(errors='replace')}") from error
    cluster = Cluster("127.0.0.1", port, data)
    try:
        cluster.admin(f"CREATE ROLE {APP} LOGIN PASSWORD '{APP_PASSWORD}'")
        yield cluster
    finally:
        subprocess.run(
            _as_owner(owner, [str(bindir / "pg_ctl"), "stop", "-m", "immediate", "-D", str(data)]),
            capture_output=True,
            cwd=base,
        )
        shutil.rmtree(base, ignore_errors=True)


def _user_exists(name: str) -> bool:
    try:
        pwd.getpwnam(name)
    except KeyError:
        return False
    return True


def _unavailable(reason: str) -> None:
    if os.environ.get("CI") == "true":
        pytest.fail(f"PostgreSQL tests cannot run in CI: {reason}")
    pytest.skip(f"PostgreSQL tests skipped: {reason}")


@pytest.fixture(scope="session")
def pg_cluster() -> Iterator[Cluster]:
    """The session's PostgreSQL cluster (skips, or fails in CI, when PostgreSQL or psycopg is missing)."""
    try:
        import psycopg  # noqa: F401
        import psycopg_pool  # noqa: F401
    except ImportError:
        _unavailable("psycopg is not installed (pip install 'mailtrap-lite[postgres]')")
    bindir = _bindir()
    if bindir is None:
        _unavailable("PostgreSQL is not installed (no initdb on PATH or in /usr/lib/postgresql)")
        raise AssertionError("unreachable")
    yield from _start(bindir)


@pytest.fixture(scope="session")
def pg_databases(pg_cluster: Cluster) -> Iterator[dict[bool, str]]:
    """Two databases for store tests, by whether the app may create extensions (pg_trgm) in it; each
    test empties the one it uses (``fresh_pg``)."""
    yield {
        allowed: pg_cluster.create_database(f"store_{allowed}", extensions_allowed=allowed)
        for allowed in (True, False)
    }


def fresh_pg(request: pytest.FixtureRequest, *, trigrams: bool) -> str:
    """The DSN of an empty store database: with pg_trgm creatable or not."""
    cluster: Cluster = request.getfixturevalue("pg_cluster")
    databases: dict[bool, str] = request.getfixturevalue("pg_databases")
    cluster.reset(f"store_{trigrams}")
    return databases[trigrams]
