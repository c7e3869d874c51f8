"""The S3 server alone: uploads the files of a Delta table written by `inlet copy` to the
local disk (the same bytes an S3 copy sends) with pyarrow's S3 client, multipart and on
several threads, so the figure is what the store takes in at most on this machine.

Usage (with the AWS variables of bench/s3.py in the environment):
    python3 s3_upload.py <local table directory> <bucket/prefix>
Prints one JSON line: files, bytes.
"""

import json
import os
import sys

import pyarrow.fs


def main():
    source, target = sys.argv[1:3]
    scheme, _, host = os.environ["AWS_ENDPOINT_URL"].rpartition("://")
    s3 = pyarrow.fs.S3FileSystem(access_key=os.environ["AWS_ACCESS_KEY_ID"],
                                 secret_key=os.environ["AWS_SECRET_ACCESS_KEY"],
                                 region=os.environ.get("AWS_REGION", "us-east-1"),
                                 endpoint_override=host, scheme=scheme)
    pyarrow.fs.copy_files(source, target, destination_filesystem=s3, use_threads=True)
    files = [os.path.join(d, f) for d, _, names in os.walk(source) for f in names]
    print(json.dumps({"files": len(files), "bytes": sum(os.path.getsize(f) for f in files)}))


if __name__ == "__main__":
    main()
