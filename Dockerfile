# One Vision Lab replica: the app on the shipped weights, CPU TensorFlow, as a non-root user.
#   docker build -t vision-lab .  &&  docker run -p 8501:8501 vision-lab
# Several replicas behind nginx, with PostgreSQL for the class board: compose.yaml, docs/deploy.md.
FROM python:3.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    TF_CPP_MIN_LOG_LEVEL=2 \
    STREAMLIT_BROWSER_GATHER_USAGE_STATS=false

WORKDIR /app

# CPU TensorFlow (the same release without the GPU support: a smaller image). The requirements
# come first so that a change to the code does not reinstall them.
COPY requirements.txt ./
RUN sed 's/^tensorflow>=/tensorflow-cpu>=/' requirements.txt > /tmp/requirements-cpu.txt \
    && pip install -r /tmp/requirements-cpu.txt \
    && rm /tmp/requirements-cpu.txt

# The app, its pages and the shipped weights (.dockerignore leaves the tests and datasets out).
COPY . .

# A user of its own; data/ holds the class board's SQLite file when no PostgreSQL is given.
RUN useradd --create-home --uid 10001 vision \
    && mkdir -p /app/data \
    && chown vision:vision /app/data
USER vision

EXPOSE 8501
HEALTHCHECK --interval=15s --timeout=5s --start-period=60s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8501/_stcore/health', timeout=4)"]
CMD ["streamlit", "run", "app.py", "--server.port", "8501", "--server.address", "0.0.0.0"]
