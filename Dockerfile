# mailtrap-lite in a container: SMTP on 1025, web UI and API on 8025.
FROM python:3.12-slim

RUN useradd --create-home --uid 10001 mailtrap
WORKDIR /app
COPY pyproject.toml README.md ./
COPY mailtrap_lite ./mailtrap_lite
COPY static ./static
# EXTRAS="[postgres]" adds the PostgreSQL driver (compose.yaml builds it so).
ARG EXTRAS=""
RUN pip install --no-cache-dir ".${EXTRAS}"

USER mailtrap
# Inside a container the listeners must face the container's network, not its loopback.
ENV MAILTRAP_LITE_SMTP=0.0.0.0:1025 \
    MAILTRAP_LITE_HTTP=0.0.0.0:8025
EXPOSE 1025 8025
HEALTHCHECK --interval=10s --timeout=3s --start-period=5s \
    CMD ["python", "-c", "import sys, urllib.request; sys.exit(urllib.request.urlopen('http://127.0.0.1:8025/readyz', timeout=2).status != 200)"]
CMD ["mailtrap-lite"]
