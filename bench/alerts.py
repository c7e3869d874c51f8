"""Alert delivery latency: event committed (its `createdAt`) → the receiver got it.

Starts a fresh `inlet serve` (its own data directory; `[alerts] allow_http = true` for the
loopback receiver, everything else at its defaults, so `poll_interval` is 500 ms), a plain
HTTP receiver in this process, one subscription, then writes N events through
`POST /subscriptions/{id}/test` (the test event takes the same outbox → fan-out → delivery
path as a run's events) and reports the median and p99 of the latency in milliseconds.

    python3 bench/alerts.py --inlet target/release/inlet --events 1000
"""

import argparse
import http.server
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from flow import FLOW, Api, _cli, ORG  # noqa: E402

received = {}
lock = threading.Lock()


class Receiver(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        at = time.time() * 1000
        body = self.rfile.read(int(self.headers["content-length"]))
        self.send_response(204)
        self.end_headers()
        event = json.loads(body)
        with lock:
            received.setdefault(event["id"], (at, event["createdAt"]))

    def log_message(self, *args):
        pass


def percentile(values, p):
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))]


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--inlet", default="target/release/inlet")
    parser.add_argument("--events", type=int, default=1000)
    args = parser.parse_args()
    receiver = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    threading.Thread(target=receiver.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{receiver.server_address[1]}/hook"
    env = {k: v for k, v in os.environ.items() if not k.startswith("INLET_")}
    with tempfile.TemporaryDirectory() as work:
        data_dir = os.path.join(work, "data")
        config = os.path.join(work, "inlet.toml")
        with open(config, "w") as f:
            f.write("[alerts]\nallow_http = true\n")
        with open(os.path.join(work, "serve.log"), "w") as log:
            server = subprocess.Popen([args.inlet, "serve", "--config", config, "--data-dir", data_dir,
                                       "--listen", "127.0.0.1:0"], env=env, stdout=subprocess.PIPE,
                                      stderr=log, text=True)
        try:
            base = server.stdout.readline().strip().removeprefix("inlet listening on ")
            client = json.loads(_cli(args.inlet, env, data_dir, "clients", "create", "--org", ORG, "--name", "b"))
            token = _cli(args.inlet, env, data_dir, "token", "--org", ORG, "--client-id", client["client_id"])
            api = Api(base, client["client_id"], token)
            sub = api.created(f"{FLOW}/subscriptions", {"url": url, "events": ["flow.run.success"]})
            ids = [sub["testEventId"]]
            for _ in range(args.events - 1):
                status, reply = api.call("POST", f"{FLOW}/subscriptions/{sub['id']}/test", {})
                assert status == 202, (status, reply)
                ids.append(reply["eventId"])
                time.sleep(0.01)
            deadline = time.time() + 120
            while time.time() < deadline:
                with lock:
                    if all(i in received for i in ids):
                        break
                time.sleep(0.1)
            with lock:
                latencies = [received[i][0] - received[i][1] for i in ids if i in received]
            print(f"{len(latencies)} of {len(ids)} events delivered; latency median "
                  f"{percentile(latencies, 50):.0f} ms, p99 {percentile(latencies, 99):.0f} ms, "
                  f"max {max(latencies):.0f} ms")
        finally:
            server.send_signal(signal.SIGTERM)
            server.wait()


if __name__ == "__main__":
    main()
