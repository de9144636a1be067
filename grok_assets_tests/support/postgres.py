"""A PostgreSQL server for the tests: Debian's server binaries, a temporary directory, a
free loopback port, password authentication.

As root (the tests run as root in CI) every server command runs as the ``postgres``
user, since the server refuses root. Missing binaries skip the test, except in CI,
where ``.ci/run`` installs them and their absence is a failure.
"""

from __future__ import annotations

import glob
import os
import secrets
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from grok_assets.dev.s3_server import free_port

IN_CI = os.environ.get("CI", "").lower() == "true"


@dataclass(frozen=True)
class Postgres:
    host: str
    port: int
    user: str
    password: str
    db_name: str

    def env(self) -> dict[str, str]:
        """The variables ``deploy/dagster.yaml`` reads its connection from."""
        return {
            "DAGSTER_PG_HOST": self.host,
            "DAGSTER_PG_PORT": str(self.port),
            "DAGSTER_PG_USERNAME": self.user,
            "DAGSTER_PG_PASSWORD": self.password,
            "DAGSTER_PG_DB": self.db_name,
        }

    def connect(self) -> Any:
        import psycopg2

        return psycopg2.connect(
            host=self.host,
            port=self.port,
            user=self.user,
            password=self.password,
            dbname=self.db_name,
            connect_timeout=5,
        )

    def create_database(self, name: str) -> Postgres:
        """A new, empty database on this server, as a Postgres pointing at it."""
        connection = self.connect()
        connection.autocommit = True
        try:
            with connection.cursor() as cursor:
                cursor.execute(f'CREATE DATABASE "{name}"')
        finally:
            connection.close()
        return Postgres(self.host, self.port, self.user, self.password, name)

    def instance_yaml(self) -> str:
        """A dagster.yaml with this database written in (for a reader in the test
        process, whose environment the tests never change)."""
        return (
            "storage:\n  postgres:\n    postgres_db:\n"
            f"      hostname: {self.host}\n      port: {self.port}\n"
            f"      username: {self.user}\n      password: {self.password}\n"
            f"      db_name: {self.db_name}\n      scheme: postgresql+psycopg2\n"
            "telemetry:\n  enabled: false\n"
        )


def unavailable(reason: str, package: str) -> None:
    if IN_CI:
        pytest.fail(f"{reason}; .ci/run installs Debian's {package} package")
    pytest.skip(reason)


def _postgres_bin() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), reverse=True)
    return Path(found[0]).parent if found else None


@contextmanager
def postgres_server() -> Iterator[Postgres]:
    """A running server with an empty database ``dagster``, stopped on exit."""
    bindir = _postgres_bin()
    if bindir is None:
        unavailable(
            "PostgreSQL server binaries not found (/usr/lib/postgresql/*/bin)", "postgresql"
        )
    assert bindir is not None
    as_root = os.geteuid() == 0
    prefix: list[str] = []
    if as_root:
        # The server refuses to run as root.
        if shutil.which("runuser") is None:
            unavailable("running as root without runuser to start PostgreSQL", "postgresql")
        try:
            import pwd

            account = pwd.getpwnam("postgres")
        except KeyError:
            unavailable("running as root and there is no postgres user", "postgresql")
        prefix = ["runuser", "-u", "postgres", "--"]
    base = Path(tempfile.mkdtemp(prefix="grok-pg-"))
    if as_root:
        os.chown(base, account.pw_uid, account.pw_gid)
    data, log = base / "data", base / "server.log"
    password = secrets.token_hex(12)
    pwfile = base / "pwfile"
    pwfile.write_text(password + "\n")
    if as_root:
        os.chown(pwfile, account.pw_uid, account.pw_gid)
    pwfile.chmod(0o600)
    port = free_port()

    def run(*command: str) -> None:
        subprocess.run([*prefix, *command], check=True, capture_output=True, timeout=120)

    started = False
    try:
        try:
            run(
                str(bindir / "initdb"),
                "-D",
                str(data),
                "--username=dagster",
                f"--pwfile={pwfile}",
                "--auth-host=scram-sha-256",
                "--auth-local=scram-sha-256",
                "--encoding=UTF8",
                "--no-sync",
            )
            options = f"-p {port} -c listen_addresses=127.0.0.1 -k {base} -c fsync=off"
            run(
                str(bindir / "pg_ctl"),
                "-D",
                str(data),
                "-l",
                str(log),
                "-o",
                options,
                "-w",
                "start",
            )
            started = True
        except subprocess.CalledProcessError as error:
            detail = (error.stderr or b"").decode(errors="replace")
            server_log = log.read_text(errors="replace") if log.exists() else ""
            raise RuntimeError(f"PostgreSQL did not start: {detail}\n{server_log}") from error
        server = Postgres("127.0.0.1", port, "dagster", password, "postgres")
        yield server.create_database("dagster")
    finally:
        if started:
            subprocess.run(
                [*prefix, str(bindir / "pg_ctl"), "-D", str(data), "-m", "fast", "-w", "stop"],
                capture_output=True,
                timeout=60,
                check=False,
            )
        shutil.rmtree(base, ignore_errors=True)
