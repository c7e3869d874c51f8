"""A throw-away PostgreSQL server for the benchmark, started the way the test harness
starts its servers (tests/it/common/pg.rs): `initdb` and `pg_ctl` from the Debian binaries,
as the `postgres` OS user when running as root, in a directory that user owns, on a free
port, listening on 127.0.0.1 only, with fsync off. Local socket: trust; TCP: SCRAM.

The benchmark's clients all connect over TCP to 127.0.0.1 with the superuser's password.
"""

import glob
import os
import secrets
import shutil
import socket
import subprocess
import tempfile
import urllib.parse

import psycopg2

SUPERUSER = "postgres"
OS_USER = "postgres"
DATABASE = "bench"


def pg_bin_dir():
    """INLET_PG_BIN, else the newest /usr/lib/postgresql/*/bin, else the one on PATH."""
    if os.environ.get("INLET_PG_BIN"):
        return os.environ["INLET_PG_BIN"]
    dirs = [d for d in glob.glob("/usr/lib/postgresql/*/bin") if os.path.isfile(os.path.join(d, "initdb"))]
    if dirs:
        return max(dirs, key=lambda d: int(d.split("/")[-2]) if d.split("/")[-2].isdigit() else 0)
    initdb = shutil.which("initdb")
    if initdb:
        return os.path.dirname(initdb)
    raise SystemExit("bench: no PostgreSQL server binaries (initdb): install the `postgresql` package")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class PgServer:
    """`with PgServer(settings) as pg:` starts a cluster and stops and removes it at the end."""

    def __init__(self, settings=None, base_dir=None):
        self.bin = pg_bin_dir()
        self.settings = settings or {}
        self.root = os.geteuid() == 0
        self.dir = tempfile.mkdtemp(prefix="inlet-bench-pg-", dir=base_dir)
        self.password = secrets.token_hex(16)
        self.port = None

    # ---- lifecycle

    def __enter__(self):
        try:
            self.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *_):
        self.stop()

    def _server_cmd(self, program, *args):
        cmd = [os.path.join(self.bin, program), *args]
        return ["runuser", "-u", OS_USER, "--", *cmd] if self.root else cmd

    def _run(self, cmd, what):
        out = subprocess.run(cmd, cwd=self.dir, capture_output=True, text=True)
        if out.returncode != 0:
            raise RuntimeError(f"PostgreSQL: {what} failed:\n{out.stdout}\n{out.stderr}\n{self.log()}")
        return out

    def start(self):
        os.makedirs(os.path.join(self.dir, "sock"))
        with open(os.path.join(self.dir, "pwfile"), "w") as f:
            f.write(self.password + "\n")
        if self.root:
            # initdb refuses root: the cluster belongs to the `postgres` OS user.
            subprocess.run(["chown", "-R", f"{OS_USER}:{OS_USER}", self.dir], check=True)
            os.chmod(self.dir, 0o755)
        args = ["-U", SUPERUSER, "--no-sync", "-A", "scram-sha-256", "--pwfile", "pwfile",
                "-E", "UTF8", "--locale=C", "-D", "data"]
        self._run(self._server_cmd("initdb", *args), "initdb (as the cluster's owner)")
        conf = {
            "listen_addresses": "'127.0.0.1'",
            "unix_socket_directories": f"'{self.dir}/sock'",
            "fsync": "off",
            "synchronous_commit": "off",
            "full_page_writes": "off",
            "logging_collector": "off",
            **self.settings,
        }
        with open(os.path.join(self.dir, "data", "postgresql.conf"), "a") as f:
            f.write("\n# inlet benchmark\n" + "".join(f"{k} = {v}\n" for k, v in conf.items()))
        with open(os.path.join(self.dir, "data", "pg_hba.conf"), "w") as f:
            f.write("local all all trust\n"
                    "host all all 127.0.0.1/32 scram-sha-256\nhost all all ::1/128 scram-sha-256\n")
        for _ in range(10):
            port = free_port()
            before = len(self.log())
            out = subprocess.run(self._server_cmd("pg_ctl", "-o", f"-p {port}", "-D", "data",
                                                  "-l", "server.log", "-w", "-t", "120", "start"),
                                 cwd=self.dir, capture_output=True, text=True)
            if out.returncode == 0:
                self.port = port
                break
            if "Address already in use" not in self.log()[before:]:
                raise RuntimeError(f"pg_ctl start failed:\n{out.stdout}\n{out.stderr}\n{self.log()}")
        else:
            raise RuntimeError("PostgreSQL found no free port in 10 attempts")
        self.psql("postgres", f"CREATE DATABASE {DATABASE}")

    def stop(self):
        if self.port is not None:
            subprocess.run(self._server_cmd("pg_ctl", "-D", "data", "-m", "immediate", "-w", "stop"),
                           cwd=self.dir, capture_output=True)
            self.port = None
        shutil.rmtree(self.dir, ignore_errors=True)

    def log(self):
        try:
            with open(os.path.join(self.dir, "server.log"), errors="replace") as f:
                return f.read()
        except OSError:
            return ""

    # ---- clients

    def psql_path(self):
        path = os.path.join(self.bin, "psql")
        return path if os.path.exists(path) else "psql"

    def psql(self, database, sql):
        """Runs `sql` as the superuser over the unix socket; returns the trimmed output."""
        cmd = [self.psql_path(), "-X", "-q", "-v", "ON_ERROR_STOP=1", "-At", "-f", "-",
               "-h", f"{self.dir}/sock", "-p", str(self.port), "-U", SUPERUSER, "-d", database]
        out = subprocess.run(cmd, input=sql, capture_output=True, text=True)
        if out.returncode != 0:
            raise RuntimeError(f"psql failed: {out.stderr}\nSQL:\n{sql[:2000]}")
        return out.stdout.strip()

    def url(self, database=DATABASE):
        """postgres://postgres:<pw>@127.0.0.1:<port>/<database> (TCP, SCRAM)."""
        password = urllib.parse.quote(self.password, safe="")
        return f"postgres://{SUPERUSER}:{password}@127.0.0.1:{self.port}/{database}"

    def tcp_psql_cmd(self, sql, database=DATABASE):
        """psql over TCP to 127.0.0.1 running one statement; needs `tcp_env()`."""
        return [self.psql_path(), "-X", "-q", "-h", "127.0.0.1", "-p", str(self.port),
                "-U", SUPERUSER, "-d", database, "-c", sql]

    def tcp_env(self):
        return {**os.environ, "PGPASSWORD": self.password}

    def connect(self, database=DATABASE):
        """A psycopg2 connection over the unix socket (autocommit)."""
        conn = psycopg2.connect(host=f"{self.dir}/sock", port=self.port, user=SUPERUSER, dbname=database)
        conn.autocommit = True
        return conn

    def query(self, sql, database=DATABASE):
        conn = self.connect(database)
        try:
            with conn.cursor() as cur:
                cur.execute(sql)
                return cur.fetchall() if cur.description else None
        finally:
            conn.close()

    def version(self):
        return self.query("SHOW server_version")[0][0]
