# allot in a container (issue #19): built in one stage, run from a small one as a user of its own.
#   docker build -t allot .
#   docker run -d -p 8080:8080 -v allot-data:/var/lib/allot --env-file allot.env allot
# The store is the SQLite file in the volume (or ALLOT_DB=postgres://…); every setting comes from
# the environment or an --env-file of ALLOT_NAME=value lines (docs/serve.md).
FROM rust:1-bookworm AS build
WORKDIR /src
COPY . .
RUN cargo build --release --locked -p allot-cli \
 && strip target/release/allot

FROM debian:bookworm-slim
RUN useradd --system --uid 10001 --home-dir /var/lib/allot --shell /usr/sbin/nologin allot \
 && mkdir -p /var/lib/allot && chown allot:allot /var/lib/allot
COPY --from=build /src/target/release/allot /usr/local/bin/allot
USER allot
WORKDIR /var/lib/allot
VOLUME ["/var/lib/allot"]
ENV ALLOT_DB=/var/lib/allot/allot.db \
    ALLOT_LISTEN=0.0.0.0:8080 \
    ALLOT_LOG_FORMAT=json
EXPOSE 8080
HEALTHCHECK --interval=30s --timeout=5s --start-period=10s --retries=3 CMD ["allot", "health"]
CMD ["allot", "serve"]
