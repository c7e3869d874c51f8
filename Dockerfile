# Inlet's container image: the release binary on Debian 12, run as an unprivileged user.
# Built with `docker build -t inlet .` from the repository root (see docs/deployment.md).
# The build stage needs only crates.io; the run stage only Debian's CA certificates.

FROM rust:1.95-bookworm AS build
WORKDIR /src
COPY . .
RUN cargo build --release --locked --bin inlet \
    && install -D -m 0755 target/release/inlet /out/inlet

FROM debian:bookworm-slim
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --uid 10001 --home-dir /var/lib/inlet --create-home inlet
COPY --from=build /out/inlet /usr/local/bin/inlet
USER inlet
WORKDIR /var/lib/inlet
# Embedded defaults: SQLite metadata, keys and the local lake under /var/lib/inlet.
# For several processes set INLET_METADATA_URL, INLET_LAKE_ROOT=s3://..., the AWS_*
# variables, INLET_MASTER_KEY and INLET_TOKEN_KEY (docs/deployment.md).
ENV INLET_DATA_DIR=/var/lib/inlet \
    INLET_LISTEN=0.0.0.0:8080 \
    INLET_LOG_FORMAT=json
VOLUME ["/var/lib/inlet"]
EXPOSE 8080
# Health: the orchestrator's HTTP probes, GET /healthz (alive) and GET /readyz (the
# metadata store answers); the image carries no HTTP client for a HEALTHCHECK.
ENTRYPOINT ["/usr/local/bin/inlet"]
CMD ["serve"]
