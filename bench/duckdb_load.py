"""The strongest peer: DuckDB's postgres extension (binary COPY over parallel ctid ranges,
one snapshot) reading a whole table; written as Parquet by DuckDB itself, or streamed as
Arrow batches into a Delta table by the `deltalake` package (DuckDB's delta extension only
reads). The extension is loaded from its PyPI wheel, so nothing is downloaded at run time.

Usage: python3 duckdb_load.py <postgresql url> <table> parquet|delta <target> <threads>
Prints one JSON line: rows.
"""

import glob
import json
import os
import sys


def extension():
    import duckdb_extension_postgres_scanner as wheel
    found = glob.glob(os.path.join(os.path.dirname(wheel.__file__), "extensions", "*",
                                   "postgres_scanner.duckdb_extension"))
    if not found:
        raise SystemExit("no postgres_scanner.duckdb_extension in the duckdb-extension-postgres-scanner wheel")
    return found[0]


def main():
    url, table, kind, target, threads = sys.argv[1:6]
    import duckdb
    con = duckdb.connect(config={"allow_unsigned_extensions": "true", "threads": int(threads)})
    con.execute(f"LOAD '{extension()}'")
    con.execute(f"ATTACH '{url}' AS pg (TYPE postgres, READ_ONLY)")
    query = f"SELECT * FROM pg.public.{table}"
    if kind == "parquet":
        os.makedirs(target, exist_ok=True)
        con.execute(f"COPY ({query}) TO '{target}/data.parquet' (FORMAT parquet, COMPRESSION zstd)")
        rows = con.execute(f"SELECT count(*) FROM '{target}/data.parquet'").fetchone()[0]
    else:
        from deltalake import write_deltalake
        reader = con.execute(query).fetch_record_batch(rows_per_batch=65536)
        write_deltalake(target, reader)
        from deltalake import DeltaTable
        rows = DeltaTable(target).to_pyarrow_dataset().count_rows()
    print(json.dumps({"rows": rows}))


if __name__ == "__main__":
    main()
    sys.stdout.flush()
    os._exit(0)
