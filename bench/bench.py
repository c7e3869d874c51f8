"""The benchmark of issue 5: starts PostgreSQL, generates the tables, runs every contender
on every table a few times (alternating), checks Inlet's output, and writes
bench/results/<date>.md with the raw JSON beside it. Run it through `bench/run`, which
installs what is needed and builds `inlet` first.
"""

import argparse
import contextlib
import datetime
import json
import os
import platform
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
sys.path.insert(0, HERE)

import check  # noqa: E402
import contenders  # noqa: E402
import profiling  # noqa: E402
import report  # noqa: E402
import tables  # noqa: E402
from pg import PgServer  # noqa: E402
from s3 import S3Server  # noqa: E402

STARTED = time.monotonic()


def log(message):
    elapsed = time.monotonic() - STARTED
    print(f"[{int(elapsed // 60):3d}:{int(elapsed % 60):02d}] {message}", flush=True)


def parse_args():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true", help="smoke test: 1 run, small tables")
    p.add_argument("--runs", type=int, help="repetitions per contender (default 3, 1 with --quick)")
    p.add_argument("--profile", action="store_true", help="also profile one `inlet copy` of lineitem_1m")
    p.add_argument("--inlet", default=os.path.join(REPO, "target", "release", "inlet"), help="the inlet binary")
    p.add_argument("--tables", default=",".join(tables.FULL_ROWS), help="comma-separated subset of the tables")
    p.add_argument("--contenders", default=",".join(contenders.CONTENDERS), help="comma-separated subset")
    p.add_argument("--out", default=os.path.join(HERE, "results"), help="directory of the results")
    p.add_argument("--work", default=None, help="scratch directory (default: a new one under TMPDIR)")
    p.add_argument("--keep", action="store_true", help="keep the Delta tables written (default: delete)")
    p.add_argument("--wait-quiet", type=int, default=600, metavar="SECONDS",
                   help="before each run, wait up to this long for other work to leave the CPUs (default 600)")
    p.add_argument("--note", action="append", default=[], help="a note to put in the results file")
    args = p.parse_args()
    args.runs = args.runs or (1 if args.quick else 3)
    args.tables = [t for t in args.tables.split(",") if t]
    args.contenders = [c for c in args.contenders.split(",") if c]
    unknown = [t for t in args.tables if t not in tables.FULL_ROWS] + \
              [c for c in args.contenders if c not in contenders.CONTENDERS]
    if unknown:
        p.error(f"unknown tables or contenders: {unknown}")
    return args


def _out(cmd, cwd=None):
    try:
        return subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def machine(pg, inlet):
    model = "unknown"
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    with open("/proc/meminfo") as f:
        mem_kib = int(next(line for line in f if line.startswith("MemTotal")).split()[1])
    head = _out(["git", "rev-parse", "--short=12", "HEAD"], cwd=REPO)
    engine = ["--", "src", "Cargo.toml", "Cargo.lock"]
    engine_commit = _out(["git", "log", "-1", "--format=%h", "--abbrev=12", *engine], cwd=REPO)
    commit = f"`{head}`"
    if engine_commit != head:
        commit += f" (engine: src/ last changed in `{engine_commit}`)"
    if _out(["git", "status", "--porcelain", "--untracked-files=no", *engine], cwd=REPO):
        commit += " (with uncommitted changes to src/)"
    import connectorx
    import deltalake
    import pyarrow
    try:
        import duckdb
        duckdb_version = duckdb.__version__
    except ImportError:
        duckdb_version = None
    return {
        "duckdb": duckdb_version,
        "cpus": os.cpu_count(), "cpu_model": model, "memory_gib": mem_kib / 1024 / 1024,
        "kernel": f"{platform.system()} {platform.release()}", "postgres": pg.version(),
        "git_commit": commit, "inlet_version": _out([inlet, "version"]).removeprefix("inlet "),
        "rustc": _out(["rustc", "--version"]), "python": platform.python_version(),
        "connectorx": connectorx.__version__, "deltalake": deltalake.__version__, "pyarrow": pyarrow.__version__,
    }


class Context:
    def __init__(self, pg, inlet, rows, s3=None, work=None):
        self.pg, self.inlet, self.rows, self.s3, self.work = pg, inlet, rows, s3, work
        self.partition_on = tables.PARTITION_ON
        self._local = {}

    def local_table(self, table):
        """A Delta table of `table` written by `inlet copy` to the local disk, made once
        (outside any timing): the bytes the S3 server alone is measured with."""
        if table not in self._local:
            target = os.path.join(self.work, "local-tables", table)
            cmd = [self.inlet, "copy", "--source", self.pg.url(), "--table", f"public.{table}", "--to", target]
            subprocess.run(cmd, env=contenders._inlet_env(), check=True, capture_output=True)
            self._local[table] = target
        return self._local[table]


def cpu_busy(seconds=1.0):
    """Share of the machine's CPU time spent busy over the next `seconds` (/proc/stat)."""
    def sample():
        with open("/proc/stat") as f:
            values = [int(v) for v in f.readline().split()[1:]]
        idle = values[3] + values[4]  # idle + iowait
        return sum(values) - idle, sum(values)
    busy0, total0 = sample()
    time.sleep(seconds)
    busy1, total1 = sample()
    return (busy1 - busy0) / max(1, total1 - total0)


def wait_until_quiet(max_wait):
    """Waits (up to `max_wait` seconds) until others use under a quarter of the CPUs; returns
    the last busy share seen, recorded with each run."""
    deadline = time.monotonic() + max_wait
    busy = cpu_busy()
    if busy >= 0.25 and max_wait > 0:
        log(f"  the machine is {busy:.0%} busy with other work: waiting (at most {max_wait} s)")
        while busy >= 0.25 and time.monotonic() < deadline:
            busy = cpu_busy(5.0)
    return busy


def rotated(items, by):
    by %= len(items)
    return items[by:] + items[:by]


ATTEMPTS = 3


def run_one(args, ctx, raw, round_no, table, contender):
    """One run, repeated (up to ATTEMPTS times) when other work shows up on the CPUs right
    after it, which would have slowed it; returns (record, work directory)."""
    for attempt in range(1, ATTEMPTS + 1):
        work = os.path.join(args.work, f"r{round_no}-{table}-{contender.replace(' ', '-')}-{attempt}")
        os.makedirs(work)
        busy = wait_until_quiet(args.wait_quiet)
        try:
            result = contenders.CONTENDERS[contender](ctx, table, work)
        except Exception as error:  # a contender that breaks is a failed run, not a crash
            result = {"wall_s": None, "rss_kib": None, "ok": False, "note": f"{type(error).__name__}: {error}"}
        os.sync()
        after = cpu_busy()
        record = {"round": round_no, "table": table, "contender": contender, "attempt": attempt,
                  "busy_before": round(busy, 3), "busy_after": round(after, 3), **result}
        wall = report._f(result["wall_s"], 2, " s")
        rss = report._f((result["rss_kib"] or 0) / 1024, 0, " MiB")
        log(f"round {round_no} {table} {contender}: {wall}, {rss}, {'ok' if result['ok'] else 'FAILED'}"
            f" {'' if result['ok'] else result['note']}")
        if after < 0.25 or attempt == ATTEMPTS or args.wait_quiet == 0:
            return record, work
        log(f"  other work took {after:.0%} of the CPUs right after the run: discarding it, running again")
        record.pop("location", None)
        raw["discarded"].append(record)
        shutil.rmtree(work, ignore_errors=True)


def run_all(args, ctx, raw, save):
    """Round after round; in each, every table × contender once, the contenders' order
    rotating from round to round."""
    columns = {t: raw["tables"][t]["columns"] for t in args.tables}
    for round_no in range(1, args.runs + 1):
        for table in args.tables:
            for contender in rotated(args.contenders, round_no - 1):
                record, work = run_one(args, ctx, raw, round_no, table, contender)
                if contender in contenders.CHECKED and record["ok"]:
                    started = time.monotonic()
                    ok, note = check.verify(raw["checksums"][table], record["location"], columns[table],
                                            tables.KEYS[table])
                    record.update(check_ok=ok, check_note=note, check_s=round(time.monotonic() - started, 1))
                    log(f"  check: {'ok' if ok else 'FAILED'}: {note}")
                elif contender in contenders.CHECKED:
                    record.update(check_ok=False, check_note="the run failed")
                record.pop("location", None)
                raw["results"].append(record)
                if not args.keep:
                    shutil.rmtree(work, ignore_errors=True)
                os.sync()
                save()


def main():
    # SIGTERM unwinds like an error, so the servers' context managers stop and remove them.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    args = parse_args()
    if not os.access(args.inlet, os.X_OK):
        sys.exit(f"bench: no inlet binary at {args.inlet} (bench/run builds it)")
    rows = {t: (tables.QUICK_ROWS if args.quick else tables.FULL_ROWS)[t] for t in tables.FULL_ROWS}
    today = datetime.date.today().isoformat()
    name = today + ("-quick" if args.quick else "")
    os.makedirs(args.out, exist_ok=True)
    md_path, json_path = os.path.join(args.out, f"{name}.md"), os.path.join(args.out, f"{name}.json")
    own_work = args.work is None
    args.work = args.work or tempfile.mkdtemp(prefix="inlet-bench-")
    argv = sys.argv[1:]
    if "--inlet" in argv:  # bench/run names the binary it built
        i = argv.index("--inlet")
        argv = argv[:i] + argv[i + 2:]
    command = shlex.join(["bench/run", *argv])
    raw = {"date": today, "command": command, "mode": "quick" if args.quick else "full", "runs": args.runs,
           "contenders": args.contenders, "notes": args.note, "tables": {}, "generation": {},
           "checksums": {}, "results": [], "discarded": [], "profile": None,
           "build_s": int(os.environ["BENCH_BUILD_SECONDS"]) if os.environ.get("BENCH_BUILD_SECONDS") else None}

    def save(final=False):
        raw["duration_s"] = round(time.monotonic() - STARTED, 1)
        tmp = json_path + ".tmp"
        with open(tmp, "w") as f:
            json.dump(raw, f, indent=1, default=str)
        if final:
            os.replace(tmp, json_path)
            with open(md_path + ".tmp", "w") as f:
                f.write(report.markdown(raw))
            os.replace(md_path + ".tmp", md_path)

    try:
        needs_s3 = any(c in contenders.NEEDS_S3 for c in args.contenders)
        with PgServer() as pg, (S3Server() if needs_s3 else contextlib.nullcontext()) as s3:
            raw["machine"] = machine(pg, args.inlet)
            if s3 is not None:
                # check.py reads the S3 tables with the same variables.
                os.environ.update(s3.env())
                raw["machine"]["s3"] = f"SeaweedFS ({s3.version()}) on loopback, {s3.endpoint()}"
                log(f"S3 server: {raw['machine']['s3']}")
            log(f"PostgreSQL {raw['machine']['postgres']} on port {pg.port}; generating the tables")
            gen = tables.generate(pg, rows, log)
            raw["generation"] = gen
            started = time.monotonic()
            for table in args.tables:
                facts = tables.table_facts(pg, table)
                facts.update(rows=rows[table], copy_bytes=tables.binary_copy_bytes(pg, table))
                raw["tables"][table] = facts
                log(f"{table}: {rows[table]:,} rows, binary COPY {facts['copy_bytes'] / 1e6:,.0f} MB")
            raw["sizing_s"] = round(time.monotonic() - started, 1)
            for table in args.tables:
                started = time.monotonic()
                raw["checksums"][table] = check.source_checksums(pg, table, raw["tables"][table]["columns"],
                                                                 tables.KEYS[table])
                log(f"{table}: source checksums in {time.monotonic() - started:.1f} s")
            save()
            run_all(args, Context(pg, args.inlet, rows, s3, args.work), raw, save)
            if args.profile:
                log("profiling one inlet copy of lineitem_1m")
                try:
                    raw["profile"] = profiling.profile(args.inlet, pg.url(), "lineitem_1m",
                                                       contenders._inlet_env(), os.path.join(args.work, "profile"))
                    log(f"profile: {raw['profile']['tool']}, {raw['profile']['seconds']} s")
                except Exception as error:
                    raw["notes"].append(f"the profile failed: {error}")
                    log(f"profile FAILED: {error}")
        save(final=True)
        log(f"wrote {md_path} and {json_path}")
        print(open(md_path).read())
    finally:
        if own_work and not args.keep:
            shutil.rmtree(args.work, ignore_errors=True)


if __name__ == "__main__":
    main()
