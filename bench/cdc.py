"""The CDC benchmark: change data capture from PostgreSQL into a Delta table.

A 1,000,000-row table `cdc_bench` (bench/cdc_changes.py) on a PostgreSQL server with
`wal_level = logical`; a 15-minute CDC flow (`cdcEnabled` source, no delta column) on one
`inlet serve` whose flow clock is a file (config: `settle_lag = "0s"`, `cdc_changes_per_run`
above the change count, so all changes land in one run). Measured:

1. the full copy: `inlet copy` of the table (median of `--repeat`; GNU time's peak RSS),
   beside PostgreSQL's binary COPY of it to /dev/null;
2. the initial snapshot: run 1, timed from the clock move that makes it due until it reads
   `success` (and its own durationSummary); rows/s against the full copy's; its peak RSS;
3. with the clock held (no run due), a second logical slot (pgoutput, with a publication
   of the table) is made, then 1,000,000 mixed changes are committed (60% updates, 20%
   inserts, 20% deletes, in transactions of 10,000);
4. the limit: every change read from that slot and discarded, `SELECT count(*),
   sum(length(data)) FROM pg_logical_slot_peek_binary_changes(...)` by psql over TCP
   (median of `--repeat`); the slot is dropped after;
5. the changes: run 2, timed from due to `success` (and its own durationSummary);
   changes/s against the limit's; inlet's peak RSS during it (VmHWM, reset after run 1).

After runs 1 and 2 the dataset, read by the `deltalake` package, is checked against the
source table row by row (cdc_changes.compare). `--no-inlet` runs only the PostgreSQL side
(steps 3 and 4, and the check against a table written by `deltalake` itself).

Run it through `bench/run --cdc` (which installs what is needed and builds inlet), or
directly: python3 bench/cdc.py --inlet target/release/inlet
"""

import argparse
import datetime
import json
import os
import select
import shlex
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import types

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import cdc_changes as cc  # noqa: E402
import cdc_report  # noqa: E402
import contenders  # noqa: E402
from bench import cpu_busy, machine, wait_until_quiet  # noqa: E402
from catchup import runs_of  # noqa: E402
from flow import FLOW, FLOW_SPEC, ORG, Api, _cli, _setup, peak_rss_kib  # noqa: E402
from pg import PgServer  # noqa: E402

START = 1_735_689_600  # 2025-01-01T00:00:00Z: window n of the flow is due at START + n * PERIOD
PERIOD = 900
# poll_interval: the scheduler's, which would add up to 500 ms to each run's due → success.
CONFIG = 'settle_lag = "0s"\npoll_interval = "100ms"\ncdc_changes_per_run = {per_run}\n'
SOURCE_PARAMS = {"cdcEnabled": True}
STARTED = time.monotonic()


def log(message):
    print(f"[cdc {time.monotonic() - STARTED:6.0f} s] {message}", flush=True)


def tail(path, chars=1500):
    try:
        with open(path, errors="replace") as f:
            return f.read()[-chars:]
    except OSError:
        return ""


def set_clock(clock, seconds):
    with open(clock + ".new", "w") as f:
        f.write(str(seconds))
    os.replace(clock + ".new", clock)


class Inlet:
    """One `inlet serve` on its own data directory, with a client and token; stopped by stop()."""

    def __init__(self, binary, work, clock, per_run):
        self.log_path = os.path.join(work, "serve.log")
        data_dir, config = os.path.join(work, "data"), os.path.join(work, "inlet.toml")
        with open(config, "w") as f:
            f.write(CONFIG.format(per_run=per_run))
        env = {**contenders._inlet_env(), "INLET_LOG": "info"}
        with open(self.log_path, "w") as log_file:
            self.server = subprocess.Popen(
                [binary, "serve", "--config", config, "--data-dir", data_dir, "--listen", "127.0.0.1:0"],
                env={**env, "INLET_CLOCK_FILE": clock}, stdout=subprocess.PIPE, stderr=log_file, text=True)
        ready, _, _ = select.select([self.server.stdout], [], [], 60)
        line = self.server.stdout.readline().strip() if ready else ""
        if not line.startswith("inlet listening on "):
            how = f"exited with {self.server.poll()}" if self.server.poll() is not None else "did not start in 60 s"
            self.stop()
            raise RuntimeError(f"inlet serve {how} (first line {line!r}):\n{tail(self.log_path)}")
        try:
            client = json.loads(_cli(binary, env, data_dir, "clients", "create", "--org", ORG, "--name", "cdc"))
            token = _cli(binary, env, data_dir, "token", "--org", ORG, "--client-id", client["client_id"])
        except BaseException:
            self.stop()
            raise
        self.api = Api(line.removeprefix("inlet listening on "), client["client_id"], token)

    def check_alive(self):
        if self.server.poll() is not None:
            raise RuntimeError(f"inlet serve exited with {self.server.returncode}:\n{tail(self.log_path)}")

    def reset_peak_rss(self):
        """Resets VmHWM to the current RSS (Linux's clear_refs 5); False where refused."""
        try:
            with open(f"/proc/{self.server.pid}/clear_refs", "w") as f:
                f.write("5")
            return True
        except OSError:
            return False

    def stop(self):
        if self.server.poll() is None:
            self.server.send_signal(signal.SIGTERM)
            try:
                self.server.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.server.kill()
                self.server.wait()


def wait_run(inlet, flow_id, window, timeout):
    """The flow's run of `window` once it is `success`; raises on a failed run, a dead
    server or the timeout."""
    deadline = time.monotonic() + timeout
    while True:
        inlet.check_alive()
        runs = runs_of(inlet.api, flow_id)
        states = [(r.get("windowNumber"), r.get("metrics", {}).get("statusSummary", {}).get("status")) for r in runs]
        for run, (number, state) in zip(runs, states):
            if state in ("failed", "cancelled"):
                summary = json.dumps(run.get("metrics", {}).get("statusSummary"))[:1500]
                raise RuntimeError(f"the run of window {number} ended {state}: {summary}")
            if number == window and state == "success":
                return run
        if time.monotonic() > deadline:
            raise RuntimeError(f"window {window} not done in {timeout} s; runs (window: status): {states}")
        time.sleep(0.1)


def timed_run(args, inlet, flow_id, window, clock):
    """Makes `window` due, waits for its run; returns the figures of the run."""
    early = [r.get("windowNumber") for r in runs_of(inlet.api, flow_id) if r.get("windowNumber", 0) >= window]
    if early:
        raise RuntimeError(f"windows {early} have runs before window {window} was made due: the clock is not held")
    busy = wait_until_quiet(args.wait_quiet)
    started = time.monotonic()
    set_clock(clock, START + window * PERIOD)
    run = wait_run(inlet, flow_id, window, args.timeout)
    wall = time.monotonic() - started
    metrics = run.get("metrics", {})
    durations = metrics.get("durationSummary", {})
    own = None
    if durations.get("startedAtUTC") and durations.get("completedAtUTC"):
        own = (durations["completedAtUTC"] - durations["startedAtUTC"]) / 1000
    return {"run_id": run.get("id"), "wall_s": round(wall, 2), "run_s": own, "busy_before": round(busy, 3),
            "busy_after": round(cpu_busy(), 3), "records": metrics.get("recordSummary"), "cdc": run.get("inletCdc"),
            "rss_kib": peak_rss_kib(inlet.server.pid)}


def dataset_location(api, dataset):
    status, item = api.call("GET", f"/data/foundation/catalog/dataSets/{dataset}")
    if status != 200:
        raise RuntimeError(f"GET the dataset: {status} {item}")
    return item[dataset]["location"].removeprefix("file://")


def check(source, location, what):
    started = time.monotonic()
    try:
        ok, note = cc.compare(source, cc.lake_fingerprint(location))
    except Exception as error:  # an unreadable table is a failed check, not a crash
        ok, note = False, f"cannot read the Delta table: {type(error).__name__}: {error}"
    log(f"check after {what}: {'ok' if ok else 'FAILED'}: {note} ({time.monotonic() - started:.1f} s)")
    return {"ok": ok, "note": note}


def repeated(args, what, measure_once):
    """`measure_once()` → dict with wall_s, `--repeat` times; the runs and their median."""
    runs = []
    for _ in range(args.repeat):
        busy = wait_until_quiet(args.wait_quiet)
        result = measure_once()
        runs.append({**result, "busy_before": round(busy, 3), "busy_after": round(cpu_busy(), 3)})
        log(f"{what}: {result['wall_s']:.2f} s")
    return {"median_s": round(statistics.median(r["wall_s"] for r in runs), 3), "runs": runs}


def full_copy(args, pg, work):
    target = os.path.join(work, "copy")
    shutil.rmtree(target, ignore_errors=True)
    cmd = [args.inlet, "copy", "--source", pg.url(), "--table", f"public.{cc.TABLE}", "--to", target]
    code, wall, rss, out = contenders.measure(cmd, env=contenders._inlet_env(), log_path=os.path.join(work, "copy.log"))
    if code != 0:
        raise RuntimeError(f"inlet copy: exit {code}: {tail(os.path.join(work, 'copy.log'))}")
    return {"wall_s": round(wall, 3), "rss_kib": rss, "note": (out or "").strip()[:300]}


def copy_limit(ctx, work):
    result = contenders.limit(ctx, cc.TABLE, work)
    if not result["ok"]:
        raise RuntimeError(f"COPY (FORMAT binary): {result['note']}")
    return {"wall_s": round(result["wall_s"], 3), "rss_kib": result["rss_kib"]}


def inlet_snapshot(args, pg, raw, work, clock, source):
    """Starts inlet, makes the flow, runs the snapshot (run 1); returns (inlet, flow id, dataset)."""
    inlet = Inlet(args.inlet, work, clock, args.changes_per_run)
    try:
        source_id, target, dataset = _setup(inlet.api, pg, cc.TABLE, SOURCE_PARAMS)
        flow_id = inlet.api.created(f"{FLOW}/flows", {
            "name": "cdc bench", "flowSpec": {"id": FLOW_SPEC, "version": "1.0"},
            "sourceConnectionIds": [source_id], "targetConnectionIds": [target], "transformations": [],
            "scheduleParams": {"startTime": str(START), "frequency": "minute", "interval": "15"}})["id"]
        snapshot = raw["snapshot"] = timed_run(args, inlet, flow_id, 1, clock)
        log(f"snapshot (run 1): {snapshot['wall_s']} s from due to success, its own {snapshot['run_s']} s")
        snapshot["check"] = check(source, dataset_location(inlet.api, dataset), "the snapshot")
        if not inlet.reset_peak_rss():
            raw["notes"].append("could not reset inlet's VmHWM after run 1: run 2's peak RSS includes run 1's")
        return inlet, flow_id, dataset
    except BaseException:
        inlet.stop()
        raise


def changes_and_limit(args, pg, raw, work):
    """The limit's slot, the changes, the limit's peeks, the slot dropped."""
    cc.create_limit_slot(pg)
    try:
        transactions = cc.plan(args.rows, args.changes, args.batch)
        busy = wait_until_quiet(args.wait_quiet)
        since = cc.wal_lsn(pg)
        seconds, counts = cc.apply(pg, transactions)
        raw["applied"] = {**counts, "seconds": round(seconds, 2), "wal_bytes": cc.wal_bytes(pg, since),
                          "changes_per_s": round(args.changes / seconds), "busy_before": round(busy, 3)}
        log(f"applied {args.changes:,} changes in {seconds:.1f} s: {json.dumps(raw['applied'])}")

        def peek():
            wall, rss, messages, size = cc.measure_limit(pg, contenders.measure, os.path.join(work, "peek.log"))
            return {"wall_s": round(wall, 3), "psql_rss_kib": rss, "messages": messages, "bytes": size}
        limit = raw["limit"] = repeated(args, "limit (slot read and discarded)", peek)
        limit["changes_per_s"] = round(args.changes / limit["median_s"])
    finally:
        cc.drop_limit_slot(pg)


def parse_args():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--inlet", default=os.path.join(os.path.dirname(HERE), "target", "release", "inlet"))
    p.add_argument("--rows", type=int, default=1_000_000, help="rows of the table (default 1,000,000)")
    p.add_argument("--changes", type=int, default=1_000_000, help="changes applied (default 1,000,000)")
    p.add_argument("--batch", type=int, default=10_000, help="changes per source transaction (default 10,000)")
    p.add_argument("--repeat", type=int, default=3, help="runs of the full copy and of the limit (median)")
    p.add_argument("--timeout", type=int, default=1800, help="seconds to wait for one flow run (default 1800)")
    p.add_argument("--wait-quiet", type=int, default=600, metavar="SECONDS",
                   help="before each timed step, wait up to this long for other work to leave the CPUs")
    p.add_argument("--no-inlet", action="store_true", help="only the PostgreSQL side: table, changes, limit")
    p.add_argument("--out", default=os.path.join(HERE, "results"), help="directory of the results")
    p.add_argument("--keep", action="store_true", help="keep the scratch directory (logs, Delta tables)")
    args = p.parse_args()
    problem = cc.validate(args.rows, args.changes, args.batch)
    if problem or args.repeat < 1:
        p.error(problem or "--repeat must be at least 1")
    args.changes_per_run = max(2_000_000, 2 * args.changes)
    if not args.no_inlet and not os.access(args.inlet, os.X_OK):
        p.error(f"no inlet binary at {args.inlet} (bench/run builds it; --no-inlet runs without)")
    return args


def command_line():
    argv = sys.argv[1:]
    if "--inlet" in argv:  # bench/run names the binary it built
        i = argv.index("--inlet")
        argv = argv[:i] + argv[i + 2:]
    return shlex.join(["bench/run", "--cdc", *argv])


def main():
    # SIGTERM unwinds like an error, so inlet and PostgreSQL are stopped and removed.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    args = parse_args()
    mix = dict(zip(("updates", "inserts", "deletes"), cc.mix(args.batch)))
    raw = {"date": datetime.date.today().isoformat(), "command": command_line(), "rows": args.rows,
           "changes": args.changes, "batch": args.batch, "mix": mix, "inlet": not args.no_inlet,
           "notes": [], "errors": []}
    work = tempfile.mkdtemp(prefix="inlet-cdc-")
    inlet = None
    try:
        with PgServer(settings=cc.PG_SETTINGS) as pg:
            raw["machine"] = machine(pg, args.inlet)
            raw["table"] = cc.generate(pg, args.rows)
            log(f"PostgreSQL {raw['machine']['postgres']} on port {pg.port}: {json.dumps(raw['table'])}")
            source = cc.source_fingerprint(pg)
            ctx = types.SimpleNamespace(pg=pg)
            raw["copy_limit"] = repeated(args, "binary COPY to /dev/null", lambda: copy_limit(ctx, work))
            clock = os.path.join(work, "clock")
            set_clock(clock, START - 60)
            if not args.no_inlet:
                try:
                    raw["full_copy"] = repeated(args, "inlet copy", lambda: full_copy(args, pg, work))
                    inlet, flow_id, dataset = inlet_snapshot(args, pg, raw, work, clock, source)
                except Exception as error:
                    raw["errors"].append(f"inlet, before the changes: {type(error).__name__}: {error}")
                    log(f"FAILED: {raw['errors'][-1]} (going on with the limit)")
                    inlet = None
            changes_and_limit(args, pg, raw, work)
            source = cc.source_fingerprint(pg)
            raw["source_after"] = source[0]
            if inlet is not None:
                try:
                    raw["slots_before_run_2"] = cc.slots(pg)
                    changes = raw["changes_run"] = timed_run(args, inlet, flow_id, 2, clock)
                    raw["slots_after_run_2"] = cc.slots(pg)
                    log(f"changes (run 2): {changes['wall_s']} s from due to success, its own {changes['run_s']} s; "
                        f"inletCdc {json.dumps(changes['cdc'])}")
                    changes["check"] = check(source, dataset_location(inlet.api, dataset), "the changes")
                except Exception as error:
                    raw["errors"].append(f"inlet, the changes: {type(error).__name__}: {error}")
                    log(f"FAILED: {raw['errors'][-1]}")
            elif args.no_inlet:
                reference = os.path.join(work, "reference")
                cc.reference_table(pg, reference)
                raw["reference_check"] = check(source, reference, "the changes (a table written by deltalake)")
    finally:
        if inlet is not None:
            inlet.stop()
        if args.keep:
            log(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    write(args, raw)
    checks = [raw.get(k, {}).get("check", {"ok": True}) for k in ("snapshot", "changes_run")]
    if raw["errors"] or not all(c["ok"] for c in checks + [raw.get("reference_check", {"ok": True})]):
        sys.exit(1)


def write(args, raw):
    name = f"{raw['date']}-cdc" + ("-no-inlet" if args.no_inlet else "")
    os.makedirs(args.out, exist_ok=True)
    with open(os.path.join(args.out, f"{name}.json"), "w") as f:
        json.dump(raw, f, indent=1, default=str)
    text = cdc_report.markdown(raw)
    with open(os.path.join(args.out, f"{name}.md"), "w") as f:
        f.write(text)
    print(text)
    log(f"wrote {os.path.join(args.out, name)}.md and .json")


if __name__ == "__main__":
    main()
