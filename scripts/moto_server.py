"""moto's server, with each request handled alone.

moto 5 does not isolate concurrent requests: a cancelled TransactWriteItems restores a deep copy
of the whole table taken when it began, silently undoing writes that other requests made in
between, and conditions are checked item by item while other threads write. Real DynamoDB
isolates every request (transactions are serializable). So that the local endpoint behaves like
DynamoDB under our concurrency tests, this wrapper runs moto's own WSGI application behind one
lock: clients still send truly concurrent requests, and each is applied atomically.

Usage: python moto_server.py HOST PORT
"""

import signal
import sys
import threading

from werkzeug.serving import run_simple

from moto.moto_server.werkzeug_app import (
    DomainDispatcherApplication,
    MotoRequestHandler,
    create_backend_app,
)


class OneRequestAtATime:
    def __init__(self, app):
        self.app = app
        self.lock = threading.Lock()

    def __call__(self, environ, start_response):
        with self.lock:
            # Drain the response inside the lock: moto builds it while reading its state.
            return list(self.app(environ, start_response))


def main():
    host, port = sys.argv[1], int(sys.argv[2])
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    signal.signal(signal.SIGINT, lambda *_: sys.exit(0))
    app = DomainDispatcherApplication(create_backend_app)
    run_simple(host, port, OneRequestAtATime(app), threaded=True, request_handler=MotoRequestHandler)


if __name__ == "__main__":
    main()
