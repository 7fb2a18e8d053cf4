# LunaRoute gateway image.
#
#   podman build --format docker -t lunaroute .       (or: docker build -t lunaroute .)
#   podman run -p 8081:8081 -v ./team.yaml:/etc/lunaroute/config.yaml:ro -v lunaroute-home:/data lunaroute
#
# The gateway listens on 0.0.0.0 inside the container, which it refuses to do unless the config sets
# `auth.mode: keys` (or, knowingly, `auth.allow_unauthenticated: true`): mount a config that does.

# -- builder: a virtual environment holding the package and its dependencies --------------------------------
FROM python:3.12-slim AS builder
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1
RUN python -m venv /venv
WORKDIR /src
COPY pyproject.toml README.md ./
COPY src ./src
RUN /venv/bin/pip install --no-compile . && /venv/bin/python -m compileall -q /venv/lib

# -- runtime: the venv, a non-root user, one volume ----------------------------------------------------------
FROM python:3.12-slim
RUN useradd --no-log-init --uid 10001 --user-group --home-dir /data --no-create-home lunaroute \
    && mkdir -p /data /etc/lunaroute \
    && chown lunaroute:lunaroute /data
COPY --from=builder /venv /venv
ENV PATH=/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    LUNAROUTE_HOME=/data \
    LUNAROUTE_CONFIG=/etc/lunaroute/config.yaml \
    LUNAROUTE_HOST=0.0.0.0 \
    LUNAROUTE_PORT=8081
VOLUME ["/data"]
USER lunaroute
WORKDIR /data
EXPOSE 8081
HEALTHCHECK --interval=10s --timeout=3s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/healthz' % os.environ.get('LUNAROUTE_PORT', '8081'), timeout=2)"]
STOPSIGNAL SIGTERM
ENTRYPOINT ["lunaroute"]
CMD ["serve"]
