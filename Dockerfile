# Stratum's router as a container: `docker build -t stratum-router .` from the repository root
# (deploy/compose.yaml builds it). Two stages: a wheel is built with the full toolchain, then
# installed into a slim runtime that runs as an unprivileged user.

FROM python:3.12-slim-bookworm AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY src ./src
RUN pip wheel --no-cache-dir --disable-pip-version-check --no-deps --wheel-dir /dist .

FROM python:3.12-slim-bookworm
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    STRATUM_HOST=0.0.0.0 \
    STRATUM_PORT=9000
COPY --from=build /dist /dist
# [gpu] adds nvidia-ml-py: Stratum reads free VRAM and utilisation through NVML. The wheel is
# the one just built, and the project's own dependency ranges apply (DL3013 wants ==pins).
# hadolint ignore=DL3013
RUN wheel="$(ls /dist/*.whl)" \
    && pip install --no-cache-dir --disable-pip-version-check "${wheel}[gpu]" \
    && rm -rf /dist \
    && useradd --system --uid 10001 --home-dir /home/stratum --create-home stratum
USER 10001
WORKDIR /home/stratum
EXPOSE 9000
HEALTHCHECK --interval=15s --timeout=5s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/health' % os.environ.get('STRATUM_PORT', '9000'), timeout=4)"]
ENTRYPOINT ["stratum"]
CMD ["serve"]
