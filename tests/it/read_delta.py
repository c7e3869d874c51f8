"""Reads a Delta table with an implementation independent of Inlet's (the `deltalake`
Python package, plus a plain reading of the JSON log) and prints what the tests check,
as one JSON object:

  version   the table version read
  rows      the row count
  schema    [{name, type, nullable}] with pyarrow's type names
  protocol  {minReaderVersion, minWriterVersion, readerFeatures, writerFeatures}
  files     the number of data files in that version
  txns      {appId: version}: the latest txn version per app id, from the log itself
  commits   [{version, operation, runId, windows}] oldest first, from the log itself
            (windows: a commit's inletWindows {first, last}, or None)
  log_versions  the versions of the JSON commit files in the log, in order
  sums      {column: sum} for every integer column (an order-independent checksum)
  distinct  {column: count of distinct values} for every integer column
  data      the rows (only with --rows), sorted by their JSON text, values made JSON-safe

Usage: python3 read_delta.py <table directory or s3://bucket/prefix> [--rows]

An s3:// table is read with the standard AWS variables of the environment
(AWS_ENDPOINT_URL, AWS_ALLOW_HTTP, AWS_REGION, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY),
the raw log through pyarrow's own S3 client.
"""

import base64
import datetime
import decimal
import glob
import json
import os
import sys

import pyarrow
import pyarrow.compute
import pyarrow.fs
from deltalake import DeltaTable

AWS_VARIABLES = ["AWS_ENDPOINT_URL", "AWS_ALLOW_HTTP", "AWS_REGION", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"]


def storage_options(path):
    if not path.startswith("s3://"):
        return None
    return {name: os.environ[name] for name in AWS_VARIABLES if os.environ.get(name)}


def log_files(path):
    """(name, bytes) of every JSON commit file of the table, in name order."""
    if not path.startswith("s3://"):
        names = sorted(glob.glob(os.path.join(path, "_delta_log", "*.json")))
        return [(name, open(name, "rb").read()) for name in names]
    endpoint = os.environ.get("AWS_ENDPOINT_URL", "")
    scheme, _, host = endpoint.rpartition("://")
    fs = pyarrow.fs.S3FileSystem(
        access_key=os.environ.get("AWS_ACCESS_KEY_ID"),
        secret_key=os.environ.get("AWS_SECRET_ACCESS_KEY"),
        region=os.environ.get("AWS_REGION", "us-east-1"),
        endpoint_override=host or None,
        scheme=scheme or "https",
    )
    log = path[len("s3://"):].rstrip("/") + "/_delta_log"
    infos = fs.get_file_info(pyarrow.fs.FileSelector(log, allow_not_found=True))
    names = sorted(i.path for i in infos if i.path.endswith(".json"))
    out = []
    for name in names:
        with fs.open_input_stream(name) as stream:
            out.append((name, stream.read()))
    return out


def log_entries(path):
    """Every JSON commit in order, as (version, [actions])."""
    entries = []
    for name, data in log_files(path):
        version = int(os.path.basename(name).split(".")[0])
        lines = data.decode().splitlines()
        entries.append((version, [json.loads(line) for line in lines if line.strip()]))
    return entries


def jsonable(value):
    if isinstance(value, decimal.Decimal):
        return str(value)
    if isinstance(value, (datetime.datetime, datetime.date)):
        return value.isoformat()
    if isinstance(value, bytes):
        return {"base64": base64.b64encode(value).decode()}
    if isinstance(value, dict):
        return {k: jsonable(v) for k, v in value.items()}
    if isinstance(value, list):
        return [jsonable(v) for v in value]
    return value


def main():
    path = sys.argv[1]
    table = DeltaTable(path, storage_options=storage_options(path))
    data = table.to_pyarrow_table()
    txns, commits = {}, []
    entries = log_entries(path)
    for version, actions in entries:
        for action in actions:
            if "txn" in action:
                txns[action["txn"]["appId"]] = action["txn"]["version"]
            if "commitInfo" in action:
                info = action["commitInfo"]
                commits.append({"version": version, "operation": info.get("operation"), "runId": info.get("runId"),
                                "windows": info.get("inletWindows")})
    protocol = table.protocol()
    out = {
        "version": table.version(),
        "rows": data.num_rows,
        "schema": [{"name": f.name, "type": str(f.type), "nullable": f.nullable} for f in data.schema],
        "protocol": {
            "minReaderVersion": protocol.min_reader_version,
            "minWriterVersion": protocol.min_writer_version,
            "readerFeatures": sorted(protocol.reader_features or []),
            "writerFeatures": sorted(protocol.writer_features or []),
        },
        "files": len(table.file_uris()),
        "txns": txns,
        "commits": commits,
        "log_versions": [version for version, _ in entries],
        "sums": {
            f.name: pyarrow.compute.sum(data.column(f.name)).as_py() or 0
            for f in data.schema
            if pyarrow.types.is_integer(f.type)
        },
        "distinct": {
            f.name: pyarrow.compute.count_distinct(data.column(f.name)).as_py()
            for f in data.schema
            if pyarrow.types.is_integer(f.type)
        },
    }
    if "--rows" in sys.argv:
        rows = [json.dumps(jsonable(row), sort_keys=True) for row in data.to_pylist()]
        out["data"] = [json.loads(row) for row in sorted(rows)]
    print(json.dumps(out))


if __name__ == "__main__":
    main()
    sys.stdout.flush()
    # The deltalake package's background threads sometimes abort the interpreter while it
    # shuts down ("terminate called without an active exception"); the output is complete
    # by now, so leave without running finalizers.
    os._exit(0)
