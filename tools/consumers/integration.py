#!/usr/bin/env python3
"""An integration script reporting the yearly follow-up: an administrator creates its client, the
script gets a token with client credentials, reports one follow-up (PUT), a batch of 200 with one
bad item (refused whole) and then corrected (with an Idempotency-Key, replayed once), a CSV file as
Excel saves it, and reads the history of what it changed."""
import os
import uuid

from common import URL, check, client, expect, say

from kulturplan_client import Client
from kulturplan_client.api.activities import list_activities
from kulturplan_client.api.auth import issue_token
from kulturplan_client.api.clients import create_client, list_clients, revoke_client
from kulturplan_client.api.follow_ups import get_follow_up, get_follow_up_history, post_follow_up_batch, put_follow_up
from kulturplan_client.models import (BatchItemInput, BatchRequest, BatchResult, ClientList, ClientWithSecret,
                                      CreateClient, FollowUp, FollowUpChange, FollowUpStatus, GrantType, Problem,
                                      PutFollowUp, Scope, TokenRequest, TokenResponse)

YEAR = 2026
admin = client(os.environ["KULTURPLAN_ADMIN_TOKEN"])

# The administrator's part: a client with two scopes, its secret shown once.
name = f"Integration {uuid.uuid4().hex[:8]}"
created = expect(create_client.sync_detailed(
    client=admin, body=CreateClient(name=name, scopes=[Scope.FOLLOW_UPSWRITE, Scope.READ])), 201, "create client")
check(isinstance(created, ClientWithSecret), "a ClientWithSecret")
check(set(created.scopes) == {Scope.FOLLOW_UPSWRITE, Scope.READ}, f"scopes {created.scopes}")
listed = expect(list_clients.sync_detailed(client=admin, limit=500), 200, "list clients")
check(isinstance(listed, ClientList) and any(c.client_id == created.client_id for c in listed.items), "listed")

# Client credentials: a form post without a bearer token.
granted = expect(issue_token.sync_detailed(client=Client(base_url=URL), body=TokenRequest(
    grant_type=GrantType.CLIENT_CREDENTIALS, client_id=created.client_id, client_secret=created.client_secret)),
    200, "token")
check(isinstance(granted, TokenResponse) and granted.token_type == "Bearer", "a bearer token")
api = client(granted.access_token)
say("integration", f"token for {name!r} with scopes {granted.scope!r}, {granted.expires_in} s")

activities = expect(list_activities.sync_detailed(client=api, limit=200), 200, "activities").items
check(len(activities) == 200, f"{len(activities)} activities")
first = activities[0].id

# One follow-up, then a change of it based on the ETag it answered.
put = put_follow_up.sync_detailed(first, YEAR, client=api,
                                  body=PutFollowUp(status=FollowUpStatus.ONGOING, comment="Arbetet pågår"))
check(put.status_code in (200, 201) and isinstance(put.parsed, FollowUp), f"PUT: {put.status_code}")
changed = expect(put_follow_up.sync_detailed(first, YEAR, client=api, if_match=put.headers["etag"],
                                             body=PutFollowUp(status=FollowUpStatus.COMPLETED,
                                                              comment="Genomfört under året")), 200, "PUT again")
check(changed.version == put.parsed.version + 1, "one new version")
stale = put_follow_up.sync_detailed(first, YEAR, client=api, if_match=put.headers["etag"],
                                    body=PutFollowUp(status=FollowUpStatus.DELAYED))
expect(stale, 412, "a stale If-Match")
say("integration", f"PUT {first}/{YEAR}: ongoing, then completed (version {changed.version}); stale tag refused")

# A batch of 200 with one bad item is refused whole, naming the item.
def batch(bad):
    items = [BatchItemInput(activity_id=a.id, year=YEAR, status=FollowUpStatus.ONGOING, comment=f"Rad {i}")
             for i, a in enumerate(activities)]
    if bad is not None:
        items[bad].year = 1800
    return BatchRequest(items=items)

refused = expect(post_follow_up_batch.sync_detailed(client=api, body=batch(137)), 422, "bad batch")
check(isinstance(refused, Problem), "a Problem")
check([(e.index, e.field) for e in refused.errors] == [(137, "items[137].year")], f"errors {refused.errors}")
untouched = get_follow_up.sync_detailed(activities[1].id, YEAR, client=api)
expect(untouched, 404, "nothing of the refused batch was written")

key = f"uppfoljning-{YEAR}-{uuid.uuid4().hex[:8]}"
result = expect(post_follow_up_batch.sync_detailed(client=api, body=batch(None), idempotency_key=key), 200, "batch")
check(isinstance(result, BatchResult), "a BatchResult")
check((result.created, result.updated) == (199, 1), f"created {result.created}, updated {result.updated}")
replay = post_follow_up_batch.sync_detailed(client=api, body=batch(None), idempotency_key=key)
expect(replay, 200, "replay")
check(replay.headers.get("idempotent-replayed") == "true", "the answer is marked replayed")
check((replay.parsed.created, replay.parsed.updated) == (199, 1), "the first answer, not a new write")
say("integration", f"batch: item 137 refused alone; then {result.created} created, {result.updated} updated; "
                   f"replayed with the same key")

# A CSV file as a Swedish Excel saves it. openapi-python-client generates no operation with a
# text/csv body (the document describes it fully), so the file goes by a plain POST on the
# generated client's connection.
rows = ["activity_id;year;status;comment"] + [f"{a.id};2025;{colour};Från Excel"
                                              for a, colour in zip(activities[:3], ("grön", "Gult", "röd"))]
imported = api.get_httpx_client().post(
    "/api/v1/follow-ups/import", content=("\ufeff" + "\r\n".join(rows) + "\r\n").encode(),
    headers={"Content-Type": "text/csv", "Idempotency-Key": f"{key}-csv"})
check(imported.status_code == 200, f"import: {imported.status_code} {imported.text[:300]}")
check(imported.json()["created"] == 3, f"import: {imported.json()}")
colour = expect(get_follow_up.sync_detailed(activities[1].id, 2025, client=api), 200, "imported")
check(colour.status == FollowUpStatus.ONGOING, "gult is ongoing")
say("integration", "CSV import: 3 created from Swedish colours")

# The history of the follow-up it changed: typed snapshots before and after.
history = expect(get_follow_up_history.sync_detailed(first, YEAR, client=api), 200, "history")
check(all(isinstance(h, FollowUpChange) for h in history), "FollowUpChange entries")
check([h.after.status for h in history] == [FollowUpStatus.ONGOING, FollowUpStatus.COMPLETED, FollowUpStatus.ONGOING],
      f"history {[h.after.status for h in history]}")
check(history[0].before is None and history[1].before.status == FollowUpStatus.ONGOING, "before")
check(all(h.changed_by == f"client:{name}" for h in history), "reported by the client")
say("integration", f"history of {first}/{YEAR}: {len(history)} changes by client:{name}")

# Revoked, the client's token stops working at once.
revoked = expect(revoke_client.sync_detailed(created.client_id, client=admin), 200, "revoke")
check(revoked.revoked_at is not None, "revoked_at")
expect(list_activities.sync_detailed(client=api, limit=1), 401, "a revoked client's token")
say("integration", "revoked: its token is refused")
