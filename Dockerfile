# syntax=docker/dockerfile:1
# proofgate service image. Untested here (no Docker engine on the development machines).
FROM python:3.11-slim AS base
RUN apt-get update \
    && apt-get install -y --no-install-recommends bubblewrap curl git ca-certificates \
    && rm -rf /var/lib/apt/lists/*
RUN useradd --create-home --uid 1000 proofgate
WORKDIR /opt/proofgate
COPY --chown=proofgate:proofgate . .
RUN pip install --no-cache-dir .
USER proofgate
RUN proofgate setup
ENV PROOFGATE_HOST=0.0.0.0
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=5s CMD curl -fsS http://127.0.0.1:8000/healthz || exit 1
CMD ["proofgate", "serve"]
