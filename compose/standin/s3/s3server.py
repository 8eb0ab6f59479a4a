"""S3 stand-in server: moto's S3 service, made durable with a journal.

moto keeps objects in memory. Every request that changes state is appended to
a journal in the data directory (moto's own request recorder); at start-up the
journal is compacted (reads dropped) and replayed against a private listener
before the public one opens, so buckets and objects survive a restart.
"""

import argparse
import base64
import json
import os
import sys
import threading

MUTATING = {"PUT", "POST", "DELETE", "PATCH"}


def parse_address(value, default_port):
    host, _, port = (value or "").rpartition(":")
    return (host or "0.0.0.0"), int(port or default_port)


def main():
    parser = argparse.ArgumentParser(prog="minio server")
    parser.add_argument("--address", default=":9000")
    parser.add_argument("--console-address", default=None, help="accepted, no console")
    parser.add_argument("--quiet", action="store_true")
    parser.add_argument("dirs", nargs="*", default=["/data"])
    args = parser.parse_args()

    data_dir = args.dirs[0] if args.dirs else "/data"
    state_dir = os.path.join(data_dir, ".lstk-s3")
    os.makedirs(state_dir, exist_ok=True)
    journal = os.path.join(state_dir, "journal.jsonl")
    os.environ["MOTO_RECORDER_FILEPATH"] = journal
    os.environ.pop("MOTO_ENABLE_RECORDING", None)

    import requests
    from moto.moto_api import recorder
    from moto.moto_api._internal.recorder.models import Recorder
    from moto.moto_server.werkzeug_app import create_backend_app
    from werkzeug.serving import make_server

    # Journal writes from concurrent request threads must not interleave.
    lock = threading.Lock()
    original = Recorder._record_request

    def record(self, request, body=None):
        if getattr(request, "method", "GET") not in MUTATING:
            return
        with lock:
            original(self, request, body)

    Recorder._record_request = record

    s3_app = create_backend_app("s3")
    ready = threading.Event()

    def app(environ, start_response):
        path = environ.get("PATH_INFO", "")
        if path in ("/minio/health/live", "/minio/health/ready", "/minio/health/cluster"):
            status = "200 OK" if (ready.is_set() or path.endswith("/live")) else "503 Service Unavailable"
            start_response(status, [("Content-Type", "text/plain"), ("Content-Length", "0")])
            return [b""]
        return s3_app(environ, start_response)

    # 1. compact and replay the journal on a private listener
    entries = []
    if os.path.exists(journal):
        with open(journal, encoding="utf-8") as fh:
            for line in fh:
                line = line.strip()
                if not line:
                    continue
                try:
                    row = json.loads(line)
                except ValueError:
                    continue  # a torn last line after a crash
                if row.get("method") in MUTATING:
                    entries.append(row)
    if entries:
        private = make_server("127.0.0.1", 0, app, threaded=True)
        thread = threading.Thread(target=private.serve_forever, daemon=True)
        thread.start()
        port = private.server_address[1]
        session = requests.Session()
        failed = 0
        for row in entries:
            body = row.get("body") or b""
            if row.get("body_encoded"):
                body = base64.b64decode(body)
            headers = dict(row.get("headers") or {})
            headers.pop("Transfer-Encoding", None)
            headers.pop("Content-Length", None)
            url = row["url"]
            rest = url.split("://", 1)[-1]
            path = rest[rest.find("/"):] if "/" in rest else "/"
            resp = session.request(row["method"], f"http://127.0.0.1:{port}{path}", headers=headers, data=body)
            if resp.status_code >= 500:
                failed += 1
        private.shutdown()
        tmp = journal + ".tmp"
        with open(tmp, "w", encoding="utf-8") as fh:
            for row in entries:
                fh.write(json.dumps(row) + "\n")
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, journal)
        print(f"s3 stand-in: replayed {len(entries)} journal entries ({failed} failed)", flush=True)

    # 2. record from now on, then serve
    recorder.start_recording()
    host, port = parse_address(args.address, 9000)
    server = make_server(host, port, app, threaded=True)
    ready.set()
    print(f"s3 stand-in: S3 API on {host}:{port}, data in {data_dir}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
