#!/usr/bin/env python3
"""The region's web portal: a filtered, searched activity list, a walk through every page, and the
cheap revalidation it does on every page view (If-None-Match → 304)."""
from common import check, client, expect, say

from kulturplan_client.api.activities import list_activities
from kulturplan_client.api.plans import list_plans
from kulturplan_client.models import (Activity, ActivityList, ActivitySort, PlanKind, PlanList, PlanStatus,
                                      Recurrence)

api = client()

# The culture plan in force: the adopted one that starts last (plans come in order of their period).
plans = expect(list_plans.sync_detailed(client=api, kind=PlanKind.CULTURE_PLAN, status=PlanStatus.ADOPTED), 200,
               "plans")
check(isinstance(plans, PlanList) and plans.items, "an adopted culture plan")
plan = plans.items[-1]

# Searched and filtered: Swedish full text finds parts of compounds ("folkbibliotekens").
found = expect(list_activities.sync_detailed(client=api, plan_id=plan.id, q="bibliotek",
                                             sort=ActivitySort.TITLE, count=True), 200, "search")
check(isinstance(found, ActivityList), "an ActivityList")
check(found.items and all(isinstance(a, Activity) for a in found.items), "Activity items")
check(found.total == len(found.items), f"total {found.total} for {len(found.items)} on one page")
titles = [a.title for a in found.items]
check(any("bibliotek" in t.lower() for t in titles), f"bibliotek in {titles}")
annual = expect(list_activities.sync_detailed(client=api, plan_id=plan.id, recurrence=Recurrence.ANNUAL,
                                              count=True), 200, "annual")
check(all(a.recurrence == Recurrence.ANNUAL for a in annual.items), "only annual activities")
say("portal", f"{found.total} activities on 'bibliotek' in {plan.title!r}, {annual.total} annual ones")

# Every page, once: keyset cursors until next_cursor is null.
first = expect(list_activities.sync_detailed(client=api, count=True, limit=50), 200, "first page")
seen, page, pages = [], first, 1
while True:
    seen.extend(a.id for a in page.items)
    if not page.next_cursor:
        break
    page = expect(list_activities.sync_detailed(client=api, limit=50, cursor=page.next_cursor), 200,
                  f"page {pages + 1}")
    pages += 1
check(len(seen) == len(set(seen)) == first.total, f"{len(seen)} seen of {first.total}")
say("portal", f"walked {pages} pages: all {first.total} activities, each once")

# The next page view revalidates: 304, no body.
answer = list_activities.sync_detailed(client=api, plan_id=plan.id, q="bibliotek", sort=ActivitySort.TITLE,
                                       count=True)
etag = answer.headers["etag"]
check(answer.headers["cache-control"].startswith("public"), "a shared cache may keep the list")
again = list_activities.sync_detailed(client=api, plan_id=plan.id, q="bibliotek", sort=ActivitySort.TITLE,
                                      count=True, if_none_match=etag)
expect(again, 304, "revalidation")
check(again.content == b"" and again.headers["etag"] == etag, "an empty 304 with the same ETag")
say("portal", f"revalidated with {etag}: 304")
