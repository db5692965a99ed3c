# One image for every Stet process; docker-compose.yml picks the command. Three stages, so the image
# holds neither Node.js nor a build tool, and a change to Stet's code re-uses the dependency layer.

# htmx and Swagger UI from the npm registry, pinned by dashboard/package-lock.json.
FROM node:22-slim AS assets
WORKDIR /assets
COPY dashboard/package.json dashboard/package-lock.json ./
RUN npm ci --no-audit --no-fund --ignore-scripts

FROM python:3.12-slim AS build
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1
RUN python -m venv /venv
# The default dependencies first, at the versions CI tests (requirements.lock): this layer is rebuilt
# when pyproject.toml or the lock changes, not when the code does.
COPY pyproject.toml requirements.lock /src/
RUN python -c 'import tomllib; print("\n".join(tomllib.load(open("/src/pyproject.toml", "rb"))["project"]["dependencies"]))' \
      > /tmp/dependencies.txt \
    && /venv/bin/pip install -c /src/requirements.lock -r /tmp/dependencies.txt
COPY README.md /src/
COPY service /src/service
COPY worker /src/worker
COPY dashboard /src/dashboard
COPY --from=assets /assets/node_modules/htmx.org/dist/htmx.min.js /src/dashboard/node_modules/htmx.org/dist/
COPY --from=assets /assets/node_modules/swagger-ui-dist/swagger-ui.css \
     /assets/node_modules/swagger-ui-dist/swagger-ui-bundle.js /src/dashboard/node_modules/swagger-ui-dist/
# Not editable: the package is copied into the virtualenv, and /src is left behind in this stage.
RUN /venv/bin/pip install --no-deps /src

FROM python:3.12-slim
ENV PYTHONUNBUFFERED=1 PATH=/venv/bin:$PATH STET_HOME=/data STET_HOST=0.0.0.0
RUN useradd --system --home-dir /data --shell /usr/sbin/nologin stet && mkdir -p /data && chown stet /data
COPY --from=build /venv /venv
USER stet
WORKDIR /data
EXPOSE 8000
CMD ["stet", "api"]
