#!/usr/bin/env python3
"""Checks the seed files against seeds/FORMAT.md: shapes, enums, keys and references, and the
roles read from the text against the sentences cited for them in seeds/notes/*-roles.md."""
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
plan_goals = {}
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
                if k not in {"key", "code", "kind", "title", "description", "realises", "children"}:
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
    plan_goals[key] = goals
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

# A goal realises a goal of the plan its plan implements (its parent plan).
for key, (f, p) in plans.items():
    for g in plan_goals.get(key, {}).values():
        r = g.get("realises")
        if r is None:
            continue
        parent = p.get("parent")
        if parent is None:
            err(f"{f.name} goal {g.get('key')}", f"realises {r}, but the plan has no parent plan")
        elif r not in plan_goals.get(parent, {}):
            err(f"{f.name} goal {g.get('key')}", f"realises {r}, which is not a goal of {parent}")

# Roles read from the text (seeds/notes/<plan>-roles.md): every role of the plan to an actor that
# is not a unit (the units come from the "Ansvar" column) cites a sentence of the source that
# names the actor, or a group phrase that the rules map to it.
GROUPS = {"@municipalities": ({"länets kommuner", "kommuner", "kommunerna"},
                              lambda a: a.get("kind") == "municipality")}
SOURCES = root.parent.parent / "shared" / "seeds"


def squash(text):
    return re.sub(r"\s+", " ", text).strip()


def names(named, actor):
    """Whether the words `named` name `actor`: its name, or a list of municipalities ending in
    "kommuner" that holds the name without "kommun" ("Askersunds, …, Örebro kommuner")."""
    name = actor["name"].lower()
    if name in named.lower():
        return True
    stem = name.removesuffix(" kommun")
    return (actor.get("kind") == "municipality" and stem != name
            and named.lower().endswith(" kommuner") and re.search(rf"\b{re.escape(stem)}\b", named.lower()))


unchecked_sources = set()
for notes in sorted((root / "notes").glob("*-roles.md")):
    w = f"notes/{notes.name}"
    text = notes.read_text(encoding="utf-8")
    head = dict(re.findall(r"^(plan|source): (\S+)$", text, re.M))
    plan = plans.get(head.get("plan"))
    if plan is None:
        err(w, f"names no known plan (a line 'plan: <key>'), got {head.get('plan')}")
        continue
    source_file = SOURCES / head.get("source", "")
    source_lines = source_file.read_text(encoding="utf-8").split("\n") if source_file.is_file() else None
    source = squash(" ".join(source_lines)) if source_lines is not None else None
    if source is None:
        unchecked_sources.add(head.get("source"))
    acts = {a.get("key"): a for a in plan[1].get("activities", [])}
    cited = set()
    rows = [r for r in re.findall(r"^\|(.+)\|$", text.split("## Roles", 1)[-1], re.M)]
    for n, row in enumerate(rows):
        cells = [c.strip() for c in row.split("|")]
        if n < 2 or len(cells) != 7:
            if n >= 2:
                err(w, f"row {row!r}: expected 7 cells")
            continue
        act_key, actor_key, role, named, _basis, line, sentence = cells
        rw = f"{w} {act_key} {actor_key} {role}"
        act = acts.get(act_key)
        if act is None:
            err(rw, "no such activity in the plan")
            continue
        if named not in sentence:
            err(rw, f"the sentence does not contain {named!r}")
        if source is not None and not all(squash(part) in source for part in sentence.split("…")):
            err(rw, "the sentence is not in the source")
        if source_lines is not None and not (
                line.isdigit() and 0 < int(line) <= len(source_lines)
                and squash(sentence.split("…")[0]) in squash(source_lines[int(line) - 1])):
            err(rw, f"line {line} of the source does not hold the sentence's beginning")
        if actor_key in GROUPS:
            phrases, member = GROUPS[actor_key]
            if named not in phrases:
                err(rw, f"{named!r} is not a phrase of the group (one of {sorted(phrases)})")
            targets = [k for k, a in actors.items() if member(a)]
        else:
            if actor_key not in actors:
                err(rw, "unknown actor")
                continue
            if not names(named, actors[actor_key]):
                err(rw, f"{named!r} does not name {actors[actor_key]['name']}")
            targets = [actor_key]
        links = {(l.get("actor"), l.get("role")) for l in act.get("actors", [])}
        for t in targets:
            if (t, role) not in links:
                err(rw, f"the plan file has no {role} role for {t}")
            cited.add((act_key, t, role))
    for a in plan[1].get("activities", []):
        for l in a.get("actors", []):
            if actors.get(l.get("actor"), {}).get("kind") != "unit" and \
                    (a.get("key"), l.get("actor"), l.get("role")) not in cited:
                err(f"{plan[0].name} activity {a.get('key')}",
                    f"{l.get('role')} {l.get('actor')} cites no sentence in {w}")

if errors:
    print("\n".join(errors))
    sys.exit(1)
n_act = sum(len(p.get("activities", [])) for _, p in plans.values())
for missing in sorted(unchecked_sources):
    print(f"note: source {missing} not found under {SOURCES}; cited sentences not compared with it")
print(f"ok: {len(actors)} actors, {len(plans)} plans, {n_act} activities")
