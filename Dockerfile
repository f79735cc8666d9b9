# The example ASAB service with asab-sentry. Build:
#   docker build --build-arg VERSION=1.2.3 -t asab-sentry-demo .
# It reports to the server in SENTRY_DSN (see docker-compose.yaml for one next to Bugsink).
FROM python:3.11-slim

ARG VERSION=0.1.0
ARG VCS_REF=unknown

ENV PYTHONDONTWRITEBYTECODE=1 \
	PYTHONUNBUFFERED=1 \
	PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /app

COPY pyproject.toml setup.cfg README.md ./
COPY asab_sentry ./asab_sentry
COPY docker/demo.conf ./demo.conf

RUN pip install --no-cache-dir .

# ASAB's manifest: asab-sentry reads /app/MANIFEST.json and sends release DemoApplication@$VERSION.
RUN printf '{"version": "%s", "vcs": "%s", "created_at": "%s"}\n' "$VERSION" "$VCS_REF" "$(date -u +%Y-%m-%dT%H:%M:%SZ)" > MANIFEST.json

RUN useradd --system --uid 10001 --no-create-home --shell /usr/sbin/nologin asab
USER 10001

EXPOSE 8080
CMD ["python", "-m", "asab_sentry.demo.app", "-c", "/app/demo.conf"]
