# syntax=docker/dockerfile:1
# proofgate service image: the pinned Lean toolchain, Mathlib's build cache, the REPL, the trusted
# checker, the exporter (proofgate-export, untested against real Lean), and proofgate, running as a
# non-root user with bubblewrap for the sandbox.
#
# NOT BUILT on the development machines (they have no Docker engine); see README.md, "Docker".
#
#   docker build -t proofgate .
#   docker run --rm -p 127.0.0.1:8000:8000 \
#     --security-opt seccomp=unconfined --security-opt apparmor=unconfined \
#     --security-opt systempaths=unconfined \
#     -e PROOFGATE_ALLOW_UNAUTHENTICATED=true -v proofgate-data:/var/lib/proofgate proofgate

ARG PYTHON_IMAGE=python:3.11-slim-bookworm

# --- stage 1: Lean toolchain, Mathlib cache, REPL and proofgate's Lean targets -------------------
FROM ${PYTHON_IMAGE} AS lean
SHELL ["/bin/bash", "-o", "pipefail", "-c"]
# Pinning Debian package versions would break with every point release of the base image; the
# base image tag is the pin.
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates curl git \
    && rm -rf /var/lib/apt/lists/*
ENV ELAN_HOME=/opt/elan \
    PATH=/opt/elan/bin:$PATH
WORKDIR /opt/proofgate/lean
# The toolchain is the one named in lean-toolchain; elan installs nothing else by default.
COPY lean-toolchain ./
RUN curl -sSfL https://raw.githubusercontent.com/leanprover/elan/master/elan-init.sh \
        | sh -s -- -y --no-modify-path --default-toolchain none \
    && elan toolchain install "$(cat lean-toolchain)" \
    && elan default "$(cat lean-toolchain)"
COPY lakefile.lean lake-manifest.json ./
COPY Proofgate ./Proofgate
# Mathlib's prebuilt oleans (never a local Mathlib build), then the REPL, the trusted checker and
# the exporter that turns a compile's .olean into the export the checker reads.
# A cache mirror (a host serving Mathlib's whole cache namespace) is a build argument: current
# Mathlib reads MATHLIB_CACHE_BASE_URL, and an empty value means unset. Older Mathlib revisions
# hard-code their cache location and ignore it; none reads MATHLIB_CACHE_URL.
ARG MATHLIB_CACHE_BASE_URL=""
# The packages keep their .git directories. Every `lake env` (the REPL, the audit's compiles, the
# checker) loads the workspace, and for each git package of the manifest Lake runs
# `git rev-parse HEAD` in its directory: without .git that fails, Lake takes the package for one
# whose URL changed, deletes it and clones it again. So the image keeps .git (and git) rather than
# running Lean without `lake env`.
RUN lake exe cache get \
    && lake build repl proofgate-checker proofgate-export proofgate-elab

# --- stage 2: proofgate's wheel ------------------------------------------------------------
FROM ${PYTHON_IMAGE} AS wheel
WORKDIR /src
COPY pyproject.toml README.md ./
COPY src ./src
RUN pip wheel --no-cache-dir --no-deps --wheel-dir /wheels .

# --- stage 3: the service ------------------------------------------------------------------
FROM ${PYTHON_IMAGE}
# git: Lake checks each package's checked-out revision on every `lake env` (see stage 1).
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends bubblewrap git \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --create-home --uid 10001 --user-group proofgate \
    && install -d -o proofgate -g proofgate /var/lib/proofgate
COPY --from=wheel /wheels /wheels
RUN pip install --no-cache-dir /wheels/*.whl && rm -rf /wheels
COPY --from=lean /opt/elan /opt/elan
# Owned by the service user because `lake env` refreshes its configuration cache under .lake; the
# sandbox mounts the project read-only into every jail.
COPY --from=lean --chown=10001:10001 /opt/proofgate/lean /opt/proofgate/lean
ENV ELAN_HOME=/opt/elan \
    PATH=/opt/elan/bin:$PATH \
    PROOFGATE_ELAN_HOME=/opt/elan \
    PROOFGATE_PROJECT_DIR=/opt/proofgate/lean \
    PROOFGATE_DATA_DIR=/var/lib/proofgate \
    PROOFGATE_HOST=0.0.0.0 \
    PROOFGATE_PORT=8000 \
    PROOFGATE_SANDBOX=bwrap
USER 10001:10001
WORKDIR /var/lib/proofgate
VOLUME ["/var/lib/proofgate"]
EXPOSE 8000
# /healthz, not /readyz: readiness is false during a cold Mathlib import, and a failing
# HEALTHCHECK would get the container restarted in the middle of it.
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=4)"]
CMD ["proofgate", "serve"]
