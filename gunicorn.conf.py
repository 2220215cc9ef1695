"""Production server settings: `gunicorn wsgi:app` in this folder reads this file.

    gunicorn -c gunicorn.conf.py wsgi:app          (RISK_CONFIG picks the config.json)

Threaded workers (gthread): a slow or stalled client holds one thread, not a worker, and
gunicorn defers a connection that sends nothing back to its poller. Limits keep one client
from holding much: request line, header count and size, body size (api.max_request_bytes)
and rows per request (api.max_rows) in the app. Gunicorn's own error pages (bad request
line, 414, 431) are answered as JSON like every other error. Metrics are shared by the
workers through prometheus_client's multiprocess mode (PROMETHEUS_MULTIPROC_DIR).
Environment overrides: RISK_BIND, RISK_WORKERS, RISK_THREADS, RISK_BODY_TIMEOUT,
PROMETHEUS_MULTIPROC_DIR.
"""

import glob
import json
import os
import sys
import tempfile

from gunicorn import util

bind = os.environ.get("RISK_BIND", "127.0.0.1:8000")
worker_class = "gthread"
workers = int(os.environ.get("RISK_WORKERS", "2"))  # one per core on the 2-core target
threads = int(os.environ.get("RISK_THREADS", "16"))  # slow clients each hold one thread
timeout = 30  # a worker that does not report for 30 s is restarted
graceful_timeout = 15  # a redeploy or restart lets requests in flight finish
keepalive = 5  # seconds an idle keep-alive connection is kept
backlog = 512
limit_request_line = 4094  # bytes of the request line (longer: 414)
limit_request_fields = 50  # header count
limit_request_field_size = 8190  # bytes per header (larger: 431)
max_requests = 100_000  # recycle workers now and then (bounded memory), staggered
max_requests_jitter = 10_000
# Seconds a request may wait on the client for each read of its body (or write of its
# answer): a stalled upload gets 408 instead of holding a thread for good.
BODY_TIMEOUT = float(os.environ.get("RISK_BODY_TIMEOUT", "10"))
accesslog = "-"  # one line per request on stdout, with its time in milliseconds
access_log_format = '%(h)s %(t)s "%(r)s" %(s)s %(B)s %(M)sms'
errorlog = "-"

# One folder shared by all workers for their metric files; emptied on each start.
METRICS_DIR = os.environ.setdefault(
    "PROMETHEUS_MULTIPROC_DIR", os.path.join(tempfile.gettempdir(), f"risk-metrics-{os.getuid()}")
)
ERROR_CODES = {
    403: "PERMISSION_DENIED",
    414: "REQUEST_LIMIT_EXCEEDED",
    431: "REQUEST_LIMIT_EXCEEDED",
}
ERROR_CODES.update({500: "INTERNAL_ERROR", 501: "BAD_REQUEST", 503: "TEMPORARILY_UNAVAILABLE"})


def write_json_error(sock, status_int, reason, mesg):
    """Gunicorn's own error answer, as JSON in the app's error shape instead of HTML."""
    message = f"{reason}: {mesg}" if mesg else reason
    code = ERROR_CODES.get(status_int, "BAD_REQUEST")
    body = json.dumps({"error_code": code, "message": message, "error": message}).encode()
    head = (
        f"HTTP/1.1 {status_int} {reason}\r\nConnection: close\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
    )
    util.write_nonblock(sock, head.encode("latin-1") + body)


# Workers call util.write_error for requests gunicorn refuses before the app sees them.
util.write_error = write_json_error


def pre_request(worker, req):
    """Bound every read of this request's body by BODY_TIMEOUT (the socket is blocking)."""
    sock = getattr(getattr(req, "unreader", None), "sock", None)
    if sock is not None:
        sock.settimeout(BODY_TIMEOUT)


def refuse_open_network(server):
    """Exit 1 with one line when bound beyond loopback while the store has no admin."""
    from risk_assessment.core.common import RiskError

    from risk_assessment.access.binding import bind_hosts, refuse_open_bind
    from risk_assessment.core.settings import load_config

    try:
        refuse_open_bind(load_config(), bind_hosts(server.cfg.bind))
    except RiskError as exc:
        server.log.error("%s", exc)
        sys.exit(1)


def on_starting(server):
    """Refuse a wide-open bind; start with an empty metrics folder (counts from an
    earlier run do not carry over)."""
    refuse_open_network(server)
    os.makedirs(METRICS_DIR, mode=0o700, exist_ok=True)
    for kind in ("counter", "gauge", "histogram", "summary"):  # prometheus_client's files only
        for path in glob.glob(os.path.join(METRICS_DIR, f"{kind}_*.db")):
            os.unlink(path)


def child_exit(server, worker):
    """A worker that exits leaves its counters; its live gauges are dropped."""
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)
