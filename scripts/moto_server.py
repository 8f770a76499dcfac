"""moto's server, with each request handled alone, and optionally persistent.

moto 5 does not isolate concurrent requests: a cancelled TransactWriteItems restores a deep copy
of the whole table taken when it began, silently undoing writes that other requests made in
between, and conditions are checked item by item while other threads write. Real DynamoDB
isolates every request (transactions are serializable). So that the local endpoint behaves like
DynamoDB under our concurrency tests, this wrapper runs moto's own WSGI application behind one
lock: clients still send truly concurrent requests, and each is applied atomically.

moto 5 also backs up the table once per item of a TransactWriteItems (a deep copy each, all of
the same unchanged table), so a 99-item transaction on a 2,000-item table took 4 s here and the
SDK's attempt timeout fired; `back_up_each_table_once` makes it one copy per table, the same
backup (measured: 0.2 s). Its stream's records are not deep-copied either (see `copy_table`).

Contention simulation: real DynamoDB cancels a transaction with `TransactionConflict` when
another transaction on one of its items is in flight; moto never does, and this wrapper runs
one request at a time, so nothing overlaps. For tables whose name starts with
`appkeys-contended-`, `SimulatedConflicts` stands in for AWS: a TransactWriteItems that touches
an item another TransactWriteItems touched within the last `MOTO_CONFLICT_WINDOW_MS` (default
200: requests sent together, which on AWS would overlap) is cancelled with `TransactionConflict`
on that item, for a share `MOTO_CONFLICT_SHARE` (default 0.5) of such overlapping
transactions, exactly as DynamoDB words it. The share is applied deterministically (with 0.5,
every second overlapping transaction), so that a test that sends requests together always meets
conflicts and always makes progress. `GET /_appkeys/conflicts/<table>` answers how many transactions it saw and cancelled.

With a state file, moto's recorder appends every request to it, and at start the file is
replayed before the server reports ready, so the data of `scripts/dev` survives a restart.

Usage: python moto_server.py HOST PORT [STATE_FILE]
Prints "moto ready" once it serves (after any replay).
"""

import io
import json
import os
import signal
import sys
import threading
import time

host, port = sys.argv[1], int(sys.argv[2])
state_file = sys.argv[3] if len(sys.argv) > 3 else None
if state_file:
    # The recorder reads these when moto is imported.
    os.environ["MOTO_ENABLE_RECORDING"] = "True"
    os.environ["MOTO_RECORDER_FILEPATH"] = state_file

from werkzeug.serving import make_server  # noqa: E402

from moto.moto_server.werkzeug_app import (  # noqa: E402
    DomainDispatcherApplication,
    MotoRequestHandler,
    create_backend_app,
)


def back_up_each_table_once():
    """Within one TransactWriteItems, the deep copies moto takes of a table for its rollback are
    all of the same, not yet modified table: hand out the first one again. Outside a transaction,
    moto's `copy` is untouched."""
    import copy
    import types

    from moto.dynamodb import models

    backups = None

    def deepcopy(obj, memo=None):
        # Only tables: they stay alive through the transaction, so their id names them (items
        # are copied for other reasons, once each).
        if backups is None or not isinstance(obj, models.Table):
            return copy.deepcopy(obj, memo)
        if id(obj) not in backups:
            backups[id(obj)] = copy_table(obj, memo)
        return backups[id(obj)]

    def copy_table(table, memo):
        # The table's stream shard keeps every record ever written (moto trims nothing), and a
        # deep copy of it per transaction made each write slower than the last: the test suite's
        # moto grew to 5 GB and timed out. A record never changes once written, so the backup
        # gets a new list of the same records: a cancelled transaction's records still vanish
        # with the rollback, as on AWS.
        shard = table.stream_shard
        if shard is None:
            return copy.deepcopy(table, memo)
        snapshot = copy.copy(shard)
        snapshot.items = list(shard.items)
        memo = {} if memo is None else memo
        memo[id(shard)] = snapshot
        backup = copy.deepcopy(table, memo)
        snapshot.table = backup
        return backup

    models.copy = types.SimpleNamespace(copy=copy.copy, deepcopy=deepcopy)
    transact_write_items = models.DynamoDBBackend.transact_write_items

    def one_backup_per_table(self, transact_items):
        nonlocal backups
        backups = {}
        try:
            return transact_write_items(self, transact_items)
        finally:
            backups = None

    models.DynamoDBBackend.transact_write_items = one_backup_per_table


class SimulatedConflicts:
    """Cancels a share of overlapping transactions on contended tables; see the module doc."""

    TABLE_PREFIX = "appkeys-contended-"

    def __init__(self, app):
        self.app = app
        self.share = float(os.environ.get("MOTO_CONFLICT_SHARE", "0.5"))
        self.window = float(os.environ.get("MOTO_CONFLICT_WINDOW_MS", "200")) / 1000
        self.last_touched = {}  # (table, key) -> monotonic time of the last transaction on it
        self.counts = {}  # table -> {"transactions": n, "overlapping": n, "cancelled": n}

    def __call__(self, environ, start_response):
        path = environ.get("PATH_INFO", "")
        if path.startswith("/_appkeys/conflicts/"):
            table = path.rsplit("/", 1)[1]
            body = json.dumps(self.counts.get(table, {"transactions": 0, "overlapping": 0, "cancelled": 0})).encode()
            start_response("200 OK", [("Content-Type", "application/json")])
            return [body]
        if not environ.get("HTTP_X_AMZ_TARGET", "").endswith(".TransactWriteItems"):
            return self.app(environ, start_response)
        length = int(environ.get("CONTENT_LENGTH") or 0)
        raw = environ["wsgi.input"].read(length)
        environ["wsgi.input"] = io.BytesIO(raw)
        conflict = self.conflict(json.loads(raw or b"{}"))
        if conflict is None:
            return self.app(environ, start_response)
        reasons = [{"Code": "None"} for _ in range(conflict[1])]
        reasons[conflict[0]] = {"Code": "TransactionConflict", "Message": "Transaction is ongoing for the item"}
        codes = ", ".join(r["Code"] for r in reasons)
        body = json.dumps({
            "__type": "com.amazonaws.dynamodb.v20120810#TransactionCanceledException",
            "message": f"Transaction cancelled, please refer cancellation reasons for specific reasons [{codes}]",
            "CancellationReasons": reasons,
        }).encode()
        start_response("400 Bad Request", [("Content-Type", "application/x-amz-json-1.0"), ("Content-Length", str(len(body)))])
        return [body]

    def conflict(self, request):
        """(index, count) of the item to report in conflict, or None to let the transaction run."""
        items = request.get("TransactItems", [])
        touched = []
        for item in items:
            (operation,) = item.values()
            key = operation.get("Key") or {
                name: operation["Item"][name] for name in ("PK", "SK") if name in operation.get("Item", {})
            }
            touched.append((operation.get("TableName", ""), json.dumps(key, sort_keys=True)))
        contended = [t for t in touched if t[0].startswith(self.TABLE_PREFIX)]
        if not contended:
            return None
        now = time.monotonic()
        table = contended[0][0]
        counts = self.counts.setdefault(table, {"transactions": 0, "overlapping": 0, "cancelled": 0})
        counts["transactions"] += 1
        overlapping = [i for i, t in enumerate(touched) if now - self.last_touched.get(t, -1e9) < self.window]
        for t in touched:
            self.last_touched[t] = now
        if not overlapping:
            return None
        before = int(counts["overlapping"] * self.share)
        counts["overlapping"] += 1
        if int(counts["overlapping"] * self.share) > before:
            counts["cancelled"] += 1
            return overlapping[0], len(touched)
        return None


class OneRequestAtATime:
    def __init__(self, app):
        self.app = app
        self.lock = threading.Lock()

    def __call__(self, environ, start_response):
        with self.lock:
            # Drain the response inside the lock: moto builds it while reading its state.
            return list(self.app(environ, start_response))


def main():
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    signal.signal(signal.SIGINT, lambda *_: sys.exit(0))
    back_up_each_table_once()
    app = DomainDispatcherApplication(create_backend_app)
    server = make_server(host, port, OneRequestAtATime(SimulatedConflicts(app)), threaded=True, request_handler=MotoRequestHandler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    if state_file and os.path.exists(state_file) and os.path.getsize(state_file) > 0:
        from moto.moto_api import recorder

        with open(state_file) as recording:
            count = sum(1 for _ in recording)
        recorder.replay_recording(target_host=f"http://{host}:{port}")
        print(f"moto: replayed {count} recorded requests from {state_file}", flush=True)
    print("moto ready", flush=True)
    signal.pause()


if __name__ == "__main__":
    main()
