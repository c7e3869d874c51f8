"""Is a copy complete and exact? Checksums of the source table computed by PostgreSQL,
compared with the same figures computed from the Delta table by an implementation
independent of Inlet's (the `deltalake` Python package, over pyarrow).

Per column, by type:
- every column: its count of non-NULL values;
- integers, numerics: the exact sum; dates: the sum of days since 1970-01-01;
  timestamptz: the sum of microseconds since the epoch;
- text, char(n) (padding included), varchar, jsonb (its text): the sum of UTF-8 byte lengths;
- uuid: the number of distinct values and the sum of their first 32 bits;
- int[]: the number of elements and their sum.
Per table: the row count and the number of distinct keys (KEYS in tables.py).
"""

import decimal
import os

import numpy
import pyarrow
import pyarrow.compute as pc
from deltalake import DeltaTable

# Sums of 2M numeric(38,10) values need more than the default 28 digits.
decimal.getcontext().prec = 120

EPOCH_MICROS = "(extract(epoch FROM {c}) * 1000000)::bigint"


def _kind(pg_type):
    t = pg_type.split("(")[0]
    if pg_type.endswith("[]"):
        return "int_array" if t in ("integer[]", "bigint[]", "smallint[]") else "array"
    return {
        "smallint": "int", "integer": "int", "bigint": "int", "numeric": "numeric",
        "date": "date", "timestamp with time zone": "micros", "timestamp without time zone": "micros",
        "character": "text", "character varying": "text", "text": "text", "jsonb": "text",
        "json": "text", "uuid": "uuid",
    }.get(t, "other")


def source_checksums(pg, table, columns, keys):
    """{figure: value as text}, computed by PostgreSQL in one pass (plus one for the keys)."""
    exprs = {"rows": "count(*)"}
    for col in columns:
        c, kind = f'"{col["name"]}"', _kind(col["type"])
        exprs[f"{col['name']}.count"] = f"count({c})"
        if kind in ("int", "numeric"):
            exprs[f"{col['name']}.sum"] = f"sum({c})"
        elif kind == "date":
            exprs[f"{col['name']}.sum"] = f"sum({c} - date '1970-01-01')"
        elif kind == "micros":
            exprs[f"{col['name']}.sum"] = f"sum({EPOCH_MICROS.format(c=c)})"
        elif kind == "text":
            exprs[f"{col['name']}.bytes"] = f"sum(octet_length({c}::text))" if "json" in col["type"] \
                else f"sum(octet_length({c}))"
        elif kind == "uuid":
            exprs[f"{col['name']}.distinct"] = f"count(DISTINCT {c})"
            exprs[f"{col['name']}.sum32"] = f"sum(('x' || substr({c}::text, 1, 8))::bit(32)::bigint)"
        elif kind == "int_array":
            exprs[f"{col['name']}.elements"] = f"sum(cardinality({c}))"
            exprs[f"{col['name']}.sum"] = f"sum((SELECT sum(x) FROM unnest({c}) x))"
    select = ", ".join(f"({e})::text" for e in exprs.values())
    values = pg.query(f"SELECT {select} FROM {table}")[0]
    out = dict(zip(exprs, values))
    key_list = ", ".join(f'"{k}"' for k in keys)
    out["keys.distinct"] = pg.query(f"SELECT count(*)::text FROM (SELECT DISTINCT {key_list} FROM {table}) k")[0][0]
    return {k: (v if v is not None else "0") for k, v in out.items()}


def _exact_int_sum(array):
    """Sum of an integer Arrow array as a Python int, without overflow."""
    a = array.fill_null(0).to_numpy(zero_copy_only=False).astype(numpy.int64)
    return int((a >> 32).sum()) * (1 << 32) + int((a & 0xFFFFFFFF).sum())


def lake_checksums(location, columns, keys):
    """The same figures as `source_checksums`, read from the Delta table batch by batch."""
    kinds = {c["name"]: _kind(c["type"]) for c in columns}
    sums = {"rows": 0}
    key_parts = []

    def add(name, value):
        sums[name] = sums.get(name, 0) + value

    options = None
    if location.startswith("s3://"):
        names = ("AWS_ENDPOINT_URL", "AWS_ALLOW_HTTP", "AWS_REGION", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY")
        options = {n: os.environ[n] for n in names if os.environ.get(n)}
    dataset = DeltaTable(location, storage_options=options).to_pyarrow_dataset()
    for batch in dataset.to_batches(batch_size=262_144):
        sums["rows"] += batch.num_rows
        for name, kind in kinds.items():
            col = batch.column(name)
            add(f"{name}.count", len(col) - col.null_count)
            if kind == "int":
                add(f"{name}.sum", _exact_int_sum(col))
            elif kind == "numeric":
                total = pc.sum(col).as_py()
                add(f"{name}.sum", total if total is not None else decimal.Decimal(0))
            elif kind == "date":
                add(f"{name}.sum", _exact_int_sum(col.cast(pyarrow.int32())))
            elif kind == "micros":
                add(f"{name}.sum", _exact_int_sum(col.cast(pyarrow.timestamp("us", col.type.tz))
                                                  .cast(pyarrow.int64())))
            elif kind == "text":
                add(f"{name}.bytes", _exact_int_sum(pc.binary_length(col)))
            elif kind == "uuid":
                add(f"{name}.sum32", sum(int(v[:8], 16) for v in col.to_pylist() if v is not None))
                key_parts.append(("uuid", name, col))
            elif kind == "int_array":
                add(f"{name}.elements", _exact_int_sum(pc.list_value_length(col)))
                add(f"{name}.sum", _exact_int_sum(pc.list_flatten(col)))
        key_parts.append(("keys", None, [batch.column(k) for k in keys]))
    # Distinct counts over the whole table.
    for name, kind in kinds.items():
        if kind == "uuid":
            values = pyarrow.chunked_array([c for t, n, c in key_parts if t == "uuid" and n == name])
            sums[f"{name}.distinct"] = len(pc.unique(values))
    key_columns = [pyarrow.chunked_array([p[2][i] for p in key_parts if p[0] == "keys"]) for i in range(len(keys))]
    if key_columns and len(key_columns[0]):
        table = pyarrow.table(key_columns, names=keys)
        sums["keys.distinct"] = table.group_by(keys).aggregate([]).num_rows
    else:
        sums["keys.distinct"] = 0
    return sums


def compare(expected, actual):
    """[(figure, expected, actual)] of every figure that differs."""
    diffs = []
    for name, want in expected.items():
        got = actual.get(name)
        same = got is not None and decimal.Decimal(str(want)) == decimal.Decimal(str(got))
        if not same:
            diffs.append((name, want, None if got is None else str(got)))
    return diffs


def verify(expected, location, columns, keys):
    """(ok, message): the Delta table at `location` against the source's figures."""
    try:
        actual = lake_checksums(location, columns, keys)
    except Exception as error:  # an unreadable table is a failed copy, not a crash
        return False, f"cannot read the Delta table: {error}"
    diffs = compare(expected, actual)
    if diffs:
        shown = "; ".join(f"{n}: source {w}, lake {g}" for n, w, g in diffs[:5])
        return False, f"{len(diffs)} figures differ: {shown}"
    return True, f"{actual['rows']} rows, {len(expected)} figures equal"
