# rcbot in a container: `docker build -t rcbot .`, then see README "Deploy".
# Configuration comes from RCBOT_* variables (every setting has one), or from a file mounted at
# /etc/rcbot/bot.toml with the command `run -c /etc/rcbot/bot.toml`. State (the SQLite file of
# delegated tokens, conversations and the audit trail) lives in the /data volume.

FROM python:3.11-slim-bookworm AS build
WORKDIR /src
COPY . .
RUN pip wheel --no-cache-dir --no-deps --wheel-dir /wheels .

FROM python:3.11-slim-bookworm
RUN useradd --system --uid 10001 --user-group --home-dir /data --shell /usr/sbin/nologin rcbot \
    && mkdir -p /data /etc/rcbot \
    && chown rcbot:rcbot /data
COPY --from=build /wheels /wheels
# rcbot alone: the sandbox (rcbot[sandbox]) is for demos and tests, not for production.
RUN pip install --no-cache-dir /wheels/rcbot-*.whl && rm -rf /wheels

# The relative db path lands in the WORKDIR, the volume. Health on every interface, so that the
# HEALTHCHECK below, compose and Prometheus can reach it.
ENV PYTHONUNBUFFERED=1 \
    RCBOT_DB=rcbot.db \
    RCBOT_HEALTH_HOST=0.0.0.0 \
    RCBOT_HEALTH_PORT=8080
WORKDIR /data
VOLUME ["/data"]
USER 10001:10001
EXPOSE 8080

HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD ["rcbot", "healthcheck"]
# SIGTERM (docker stop) makes the bot finish the commands in flight and exit 0.
ENTRYPOINT ["rcbot"]
CMD ["run"]
