"""The peer: ConnectorX reads a whole table into Arrow, the `deltalake` package writes it
as a new Delta table. Run as its own process and timed as a whole by the harness.

Usage: python3 cx_load.py <postgresql url> <table> <partition column> <partitions> <target dir>
Prints one JSON line: rows, read and write seconds.
"""

import json
import os
import sys
import time


def main():
    url, table, column, partitions, target = sys.argv[1:6]
    started = time.monotonic()
    import connectorx
    from deltalake import write_deltalake

    query = f"SELECT * FROM {table}"
    partitions = int(partitions)
    if partitions > 1:
        data = connectorx.read_sql(url, query, return_type="arrow",
                                   partition_on=column, partition_num=partitions)
    else:
        data = connectorx.read_sql(url, query, return_type="arrow")
    read_done = time.monotonic()
    write_deltalake(target, data)
    done = time.monotonic()
    print(json.dumps({"rows": data.num_rows, "read_s": round(read_done - started, 3),
                      "write_s": round(done - read_done, 3),
                      "schema": [f"{f.name}: {f.type}" for f in data.schema]}))


if __name__ == "__main__":
    main()
    sys.stdout.flush()
    # deltalake's background threads can abort the interpreter at shutdown; the work is done.
    os._exit(0)
