"""Runs' throughput with alert subscriptions against none (issue 23's closing figure).

The catch-up of bench/catchup.py (a 15-minute flow whose `--windows` windows of
`--rows-per-window` rows all come due at once, one `inlet serve` on SQLite), drained on fresh
servers, alternately (`--repeat` times each): with no subscription, and with 3 subscriptions each wanting every event
kind, each to its own loopback receiver (every run's start and success goes to all three).
Timed from the windows becoming due until every run is `success`; then, with
subscriptions, until every delivery arrived. Every window's rows are checked to be in the
dataset exactly once.

    python3 bench/alerts_runs.py --inlet target/release/inlet --windows 150
"""

import argparse
import datetime
import http.server
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

from catchup import PERIOD, START, exact, last_landed, runs_of, windowed_flow  # noqa: E402
from flow import FLOW  # noqa: E402
from pg import PgServer  # noqa: E402

EVENTS = ["flow.run.start", "flow.run.success", "flow.run.failure", "flow.run.partial", "flow.paused",
          "flow.run.delay", "flow.freshness", "cdc.slot.lag"]
CONFIG = 'settle_lag = "0s"\n[alerts]\nallow_http = true\n'


class Counter(http.server.BaseHTTPRequestHandler):
    """A receiver that keeps the event ids it got by type (per server: `self.server.ids`)."""

    def do_POST(self):
        body = self.rfile.read(int(self.headers["content-length"]))
        self.send_response(204)
        self.end_headers()
        event = json.loads(body)
        with self.server.lock:
            self.server.ids.setdefault(event["type"], set()).add(event["id"])

    def log_message(self, *args):
        pass


def receiver():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Counter)
    server.ids, server.lock = {}, threading.Lock()
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def serve(inlet, env, work, clock):
    config = os.path.join(work, "inlet.toml")
    with open(config, "w") as f:
        f.write(CONFIG)
    with open(os.path.join(work, "serve.log"), "w") as log_file:
        server = subprocess.Popen([inlet, "serve", "--config", config, "--data-dir", os.path.join(work, "data"),
                                   "--listen", "127.0.0.1:0"], env={**env, "INLET_CLOCK_FILE": clock},
                                  stdout=subprocess.PIPE, stderr=log_file, text=True)
    line = server.stdout.readline().strip()
    if not line.startswith("inlet listening on "):
        raise RuntimeError(f"inlet serve did not start: {line!r}")
    return server, line.removeprefix("inlet listening on ")


def one_case(args, pg, subscriptions, work):
    env = {**os.environ, "INLET_LOG": "warn"}
    clock = os.path.join(work, "clock")
    with open(clock, "w") as f:
        f.write(str(START - 60))
    server, base = serve(args.inlet, env, work, clock)
    receivers = [receiver() for _ in range(subscriptions)]
    try:
        api, flow_id, dataset = windowed_flow(args.inlet, (env, os.path.join(work, "data"), []), base, pg, "ticks")
        for r in receivers:
            api.created(f"{FLOW}/subscriptions", {"url": f"http://127.0.0.1:{r.server_address[1]}/hook",
                                                  "events": EVENTS})
        started = time.monotonic()
        with open(clock + ".new", "w") as f:
            f.write(str(START + args.windows * PERIOD))
        os.replace(clock + ".new", clock)
        while not last_landed(api, flow_id, args.windows):
            if time.monotonic() - started > 600:
                raise RuntimeError(f"the {args.windows} windows did not land in 10 minutes")
            time.sleep(0.2)
        runs_wall = time.monotonic() - started
        if any(r["metrics"]["statusSummary"]["status"] != "success" for r in runs_of(api, flow_id)):
            raise RuntimeError("a run did not succeed")
        # Each receiver gets every run's start and success (and a delay event for each run
        # that was due more than 150 minutes before it ended: most of a long catch-up's).
        def starts_and_successes(r):
            with r.lock:
                return sum(len(r.ids.get(kind, ())) for kind in ("flow.run.start", "flow.run.success"))

        expected = 2 * args.windows
        while any(starts_and_successes(r) < expected for r in receivers) and time.monotonic() - started < 900:
            time.sleep(0.1)
        delivered_wall = time.monotonic() - started
        _, item = api.call("GET", f"/data/foundation/catalog/dataSets/{dataset}")
        ok, note = exact(item[dataset]["location"].removeprefix("file://"), args.windows * args.rows_per_window)
        got = [starts_and_successes(r) for r in receivers]
        by_type = {}
        for r in receivers:
            for kind, ids in r.ids.items():
                by_type[kind] = by_type.get(kind, 0) + len(ids)
        return {"subscriptions": subscriptions, "windows": args.windows, "runs_wall_s": round(runs_wall, 2),
                "windows_per_s": round(args.windows / runs_wall, 2),
                "per_run_ms": round(runs_wall * 1000 / args.windows, 1),
                "all_delivered_s": round(delivered_wall, 2) if subscriptions else None,
                "deliveries_by_type": by_type, "start_success_expected": expected * subscriptions,
                "ok": ok and all(g == expected for g in got), "note": note}
    finally:
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(timeout=60)
        except subprocess.TimeoutExpired:
            server.kill()
        for r in receivers:
            r.shutdown()


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--inlet", default=os.path.join(os.path.dirname(HERE), "target", "release", "inlet"))
    p.add_argument("--windows", type=int, default=150)
    p.add_argument("--rows-per-window", type=int, default=200)
    p.add_argument("--repeat", type=int, default=2, help="each case this many times, alternating")
    p.add_argument("--out", default=os.path.join(HERE, "results"))
    args = p.parse_args()
    rows = args.windows * args.rows_per_window
    step = PERIOD / args.rows_per_window
    results = []
    with PgServer() as pg:
        pg.psql("bench", f"CREATE TABLE ticks (id bigint PRIMARY KEY, at timestamptz NOT NULL); "
                         f"INSERT INTO ticks SELECT g, to_timestamp({START} + g * {step}) "
                         f"FROM generate_series(0, {rows - 1}) g; ANALYZE ticks;")
        for subscriptions in [0, 3] * args.repeat:
            with tempfile.TemporaryDirectory(prefix="inlet-alert-runs-") as work:
                result = one_case(args, pg, subscriptions, work)
            print(f"[alerts_runs] {json.dumps(result)}", flush=True)
            results.append(result)
    os.makedirs(args.out, exist_ok=True)
    name = f"{datetime.date.today().isoformat()}-alerts-runs"
    with open(os.path.join(args.out, f"{name}.json"), "w") as f:
        json.dump({"windows": args.windows, "rows_per_window": args.rows_per_window, "results": results}, f, indent=1)


if __name__ == "__main__":
    main()
