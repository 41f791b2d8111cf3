#!/usr/bin/env python3
"""Checks the seed files against seeds/FORMAT.md: shapes, enums, keys and references."""
import json, re, sys, pathlib

root = pathlib.Path(__file__).resolve().parent.parent / "seeds"
errors = []
KEY = re.compile(r"^[a-z0-9-]+$")
ACTOR_KINDS = {"region", "municipality", "institution", "unit", "network", "organisation", "person"}
PLAN_KINDS = {"culture_plan", "implementation_plan", "action_plan"}
PLAN_STATUS = {"draft", "adopted", "archived"}
GOAL_KINDS = {"objective", "priority", "theme", "strategic_direction"}
ROLES = {"responsible", "coordinator", "convener", "supporting", "participant"}
STATUS = {"planned", "delayed", "completed", "ongoing", None}


def err(where, msg):
    errors.append(f"{where}: {msg}")


actors = {}
for f in sorted((root / "actors").glob("*.json")):
    data = json.loads(f.read_text(encoding="utf-8"))
    for a in data.get("actors", []):
        w = f"{f.name} actor {a.get('key')}"
        allowed = {"key", "name", "kind", "municipality_code", "parent", "title", "website", "email"}
        for k in a:
            if k not in allowed:
                err(w, f"unknown field {k}")
        if not KEY.match(a.get("key", "")):
            err(w, "bad key")
        if a.get("kind") not in ACTOR_KINDS:
            err(w, f"bad kind {a.get('kind')}")
        if not a.get("name"):
            err(w, "missing name")
        mc = a.get("municipality_code")
        if (a.get("kind") == "municipality") != (mc is not None):
            err(w, "municipality_code iff municipality")
        if mc is not None and not re.match(r"^\d{4}$", mc):
            err(w, "municipality_code not 4 digits")
        if a["key"] in actors and actors[a["key"]] != a:
            err(w, "same key with different content in another file")
        actors[a["key"]] = a
for a in actors.values():
    if a.get("parent") and a["parent"] not in actors:
        err(f"actor {a['key']}", f"unknown parent {a['parent']}")

plans = {}
for f in sorted((root / "plans").glob("*.json")):
    p = json.loads(f.read_text(encoding="utf-8"))
    plans[p.get("key")] = (f, p)
for key, (f, p) in plans.items():
    w = f.name
    allowed = {"key", "sources", "title", "kind", "status", "first_year", "last_year", "parent",
               "reference", "adopted_on", "description", "goals", "activities"}
    for k in p:
        if k not in allowed:
            err(w, f"unknown field {k}")
    if f.stem != key:
        err(w, "file name must be <key>.json")
    if p.get("kind") not in PLAN_KINDS:
        err(w, "bad kind")
    if p.get("status") not in PLAN_STATUS:
        err(w, "bad status")
    if not (isinstance(p.get("first_year"), int) and isinstance(p.get("last_year"), int)
            and 1900 <= p["first_year"] <= p["last_year"] <= 2100):
        err(w, "bad period")
    if p.get("parent") is not None and p["parent"] not in plans:
        err(w, f"unknown parent plan {p['parent']}")
    goals = {}

    def walk(gs, depth):
        for g in gs:
            gw = f"{w} goal {g.get('key')}"
            for k in g:
                if k not in {"key", "code", "kind", "title", "description", "children"}:
                    err(gw, f"unknown field {k}")
            if not g.get("key") or g["key"] in goals:
                err(gw, "missing or duplicate goal key")
            goals[g.get("key")] = g
            if g.get("kind") not in GOAL_KINDS:
                err(gw, "bad kind")
            if not g.get("title"):
                err(gw, "missing title")
            walk(g.get("children", []), depth + 1)

    walk(p.get("goals", []), 0)
    seen = set()
    for a in p.get("activities", []):
        aw = f"{w} activity {a.get('key')}"
        allowed = {"key", "goal", "linked_goals", "title", "description", "start_year", "start_term",
                   "end_year", "recurrence", "tags", "actors", "follow_ups"}
        for k in a:
            if k not in allowed:
                err(aw, f"unknown field {k}")
        if not a.get("key") or a["key"] in seen:
            err(aw, "missing or duplicate key")
        seen.add(a.get("key"))
        if a.get("goal") not in goals:
            err(aw, f"unknown goal {a.get('goal')}")
        for lg in a.get("linked_goals", []):
            if lg not in goals:
                err(aw, f"unknown linked goal {lg}")
        if not a.get("title"):
            err(aw, "missing title")
        for y in ("start_year", "end_year"):
            v = a.get(y)
            if v is not None and not (isinstance(v, int) and 1900 <= v <= 2100):
                err(aw, f"bad {y}")
        if a.get("start_year") and a.get("end_year") and a["start_year"] > a["end_year"]:
            err(aw, "start_year after end_year")
        if a.get("start_term") not in {"spring", "autumn", None}:
            err(aw, "bad start_term")
        if a.get("recurrence") not in {"none", "annual"}:
            err(aw, "bad recurrence")
        pairs = set()
        for link in a.get("actors", []):
            if link.get("actor") not in actors:
                err(aw, f"unknown actor {link.get('actor')}")
            if link.get("role") not in ROLES:
                err(aw, f"bad role {link.get('role')}")
            if (link.get("actor"), link.get("role")) in pairs:
                err(aw, f"duplicate actor link {link}")
            pairs.add((link.get("actor"), link.get("role")))
        years = set()
        for fu in a.get("follow_ups", []):
            if fu.get("status", "x") not in STATUS:
                err(aw, f"bad follow-up status {fu.get('status')}")
            if fu.get("year") in years:
                err(aw, "two follow-ups for one year")
            years.add(fu.get("year"))
            if not fu.get("comment") and fu.get("status") is None:
                err(aw, "follow-up with neither status nor comment")

if errors:
    print("\n".join(errors))
    sys.exit(1)
n_act = sum(len(p.get("activities", [])) for _, p in plans.values())
print(f"ok: {len(actors)} actors, {len(plans)} plans, {n_act} activities")
