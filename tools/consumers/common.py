"""What the three consumer programs share: the service's address, tokens and a check that names
the answer it did not expect. The programs use only the client generated from
openapi/openapi.json (package `kulturplan_client`), plus httpx where the generator cannot go."""
import os
import sys

from kulturplan_client import AuthenticatedClient

URL = os.environ["KULTURPLAN_URL"]


def client(token=None):
    return AuthenticatedClient(base_url=URL, token=token or os.environ["KULTURPLAN_TOKEN"],
                               raise_on_unexpected_status=True)


def expect(response, status, what):
    """The generated client's detailed response, with the status the document promises."""
    if response.status_code != status:
        sys.exit(f"{what}: expected {status}, got {response.status_code}: {response.content[:500]!r}")
    return response.parsed


def check(condition, message):
    if not condition:
        sys.exit(f"failed: {message}")


def say(program, message):
    print(f"{program}: {message}", flush=True)
