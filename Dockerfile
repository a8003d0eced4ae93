# One image for every Parley service; the Deployment picks the module (see deploy/kubernetes/).
FROM python:3.11-slim

WORKDIR /app
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PARLEY_ENVIRONMENT=production \
    PARLEY_LOG_FORMAT=json \
    PARLEY_HOST=0.0.0.0

COPY pyproject.toml constraints.txt README.md ./
COPY shared ./shared
COPY services ./services
COPY bench ./bench
# The same pinned versions the tests ran with.
RUN pip install --no-cache-dir -c constraints.txt . \
    && useradd --uid 10001 --no-create-home parley \
    && mkdir -p /app/.local/faust && chown parley /app/.local/faust

USER 10001
CMD ["python", "-m", "services.gateway"]
