#!/usr/bin/env python3
"""Report a year's follow-ups from a CSV file to kulturplan, as an integration script would.

Gets a token with the client-credentials grant, then posts the file to /api/v1/follow-ups/import:
all rows are written or none. Python 3 standard library only.

    export KULTURPLAN_URL=http://127.0.0.1:8080
    export KULTURPLAN_CLIENT_ID=...        # from `kulturplan clients create` or POST /api/v1/clients
    export KULTURPLAN_CLIENT_SECRET=...
    examples/report_follow_ups.py uppfoljning-2025.csv --dry-run   # check and count, write nothing
    examples/report_follow_ups.py uppfoljning-2025.csv

The file: UTF-8 ("CSV UTF-8" in Excel), `;` or `,` separated, header `activity_id;year;status;comment`,
status as planned/delayed/completed/ongoing or the plan's colour blå/röd/grön/gul.

The request carries an Idempotency-Key derived from the file's content, so running the script again
with the same file (after a timeout, say) within 24 hours does not apply it twice: the service answers
what it answered the first time. Transient failures are retried with the same key.
"""

import argparse
import base64
import hashlib
import json
import os
import sys
import time
import urllib.error
import urllib.parse
import urllib.request

RETRIES = 4


def fail(message, code=1):
    print(message, file=sys.stderr)
    sys.exit(code)


def request(url, data, headers, timeout=120):
    """POSTs and returns (status, parsed JSON body). Raises URLError on network failures."""
    req = urllib.request.Request(url, data=data, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(req, timeout=timeout) as response:
            return response.status, json.loads(response.read() or b"null"), response.headers
    except urllib.error.HTTPError as error:
        body = error.read()
        try:
            parsed = json.loads(body)
        except ValueError:
            parsed = {"detail": body.decode("utf-8", "replace")}
        return error.code, parsed, error.headers


def get_token(base, client_id, secret, scope):
    """The client-credentials grant (RFC 6749 §4.4) with HTTP Basic authentication."""
    # RFC 6749 §2.3.1: id and secret are form-encoded before they are joined and base64-encoded.
    encoded = [urllib.parse.quote(part, safe="") for part in (client_id, secret)]
    basic = base64.b64encode(":".join(encoded).encode()).decode()
    form = urllib.parse.urlencode({"grant_type": "client_credentials", "scope": scope}).encode()
    status, body, _ = request(
        f"{base}/api/v1/auth/token",
        form,
        {
            "Authorization": f"Basic {basic}",
            "Content-Type": "application/x-www-form-urlencoded",
        },
    )
    if status != 200:
        fail(f"no token ({status}): {body.get('error')}: {body.get('error_description')}")
    return body["access_token"]


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("csv", help="the follow-ups, one row per activity and year")
    parser.add_argument("--dry-run", action="store_true", help="check and count, write nothing")
    parser.add_argument("--url", default=os.environ.get("KULTURPLAN_URL", "http://127.0.0.1:8080"))
    args = parser.parse_args()

    client_id = os.environ.get("KULTURPLAN_CLIENT_ID")
    secret = os.environ.get("KULTURPLAN_CLIENT_SECRET")
    if not client_id or not secret:
        fail("set KULTURPLAN_CLIENT_ID and KULTURPLAN_CLIENT_SECRET", 2)
    try:
        with open(args.csv, "rb") as file:
            data = file.read()
    except OSError as error:
        fail(f"cannot read {args.csv}: {error}", 2)

    base = args.url.rstrip("/")
    token = get_token(base, client_id, secret, "follow_ups:write")
    url = f"{base}/api/v1/follow-ups/import" + ("?dry_run=true" if args.dry_run else "")
    headers = {
        "Authorization": f"Bearer {token}",
        "Content-Type": "text/csv; charset=utf-8",
        # Same file, same key: a repeated run is answered, not applied again.
        "Idempotency-Key": "csv-" + hashlib.sha256(data).hexdigest()[:40],
    }

    for attempt in range(1, RETRIES + 1):
        try:
            status, body, response_headers = request(url, data, headers)
        except (urllib.error.URLError, TimeoutError) as error:
            status, body, response_headers = None, {"detail": str(error)}, {}
        # Network failures, 503 (database away) and 409 (concurrent writes) are worth a retry;
        # the Idempotency-Key makes that safe.
        if status in (None, 409, 502, 503, 504) and attempt < RETRIES:
            print(f"attempt {attempt} failed ({status or body['detail']}); retrying", file=sys.stderr)
            time.sleep(2**attempt)
            continue
        break

    if status == 200:
        if args.dry_run:
            prefix = "dry run, nothing written: "
        elif response_headers.get("Idempotent-Replayed") == "true":
            prefix = "this file was already reported; the first answer: "
        else:
            prefix = ""
        print(
            f"{prefix}created {body['created']}, updated {body['updated']}, "
            f"unchanged {body['unchanged']}"
        )
        for warning in body["warnings"]:
            print(f"  warning, row {warning['row']}: {warning['message']}")
        return
    print(f"refused ({status}): {body.get('detail')}", file=sys.stderr)
    for error in body.get("errors", []):
        where = f"row {error['row']}" if "row" in error else error["field"]
        print(f"  {where}, {error['field']}: {error['message']}", file=sys.stderr)
    sys.exit(1)


if __name__ == "__main__":
    main()
