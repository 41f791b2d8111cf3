-- A realistic large data set for benchmarks: 3 culture plans, each with an implementation plan
-- and a goal tree; 213 actors (the 12 municipalities, the region with 40 units, 100
-- institutions and organisations, 60 persons); 6,000 activities with Swedish titles; about
-- 18,000 actor links; follow-ups for 2021–2024. Deterministic (setseed), so runs compare.
-- Run on a migrated, empty database: psql -v ON_ERROR_STOP=1 -f bench/generate.sql
SELECT setseed(0.42);

INSERT INTO plans (id, title, kind, status, first_year, last_year, parent_id)
SELECT md5('plan' || n)::uuid, 'Kulturplan ' || (2008 + 4 * n) || '–' || (2011 + 4 * n), 'culture_plan', 'adopted',
       2008 + 4 * n, 2011 + 4 * n, NULL
FROM generate_series(1, 3) n;
INSERT INTO plans (id, title, kind, status, first_year, last_year, parent_id)
SELECT md5('impl' || n)::uuid, 'Genomförandeplan ' || (2008 + 4 * n), 'implementation_plan', 'adopted',
       2008 + 4 * n, 2011 + 4 * n, md5('plan' || n)::uuid
FROM generate_series(1, 3) n;

-- Three objectives per implementation plan, ten priorities under each.
INSERT INTO goals (id, plan_id, parent_id, code, kind, title, position)
SELECT md5('goal' || p || '.' || o)::uuid, md5('impl' || p)::uuid, NULL, o::text, 'objective',
       (ARRAY['Utveckla den kulturella infrastrukturen', 'Öka delaktigheten i kulturlivet', 'Stärk kulturens kraft genom samverkan'])[o], o
FROM generate_series(1, 3) p, generate_series(1, 3) o;
INSERT INTO goals (id, plan_id, parent_id, code, kind, title, description, position)
SELECT md5('goal' || p || '.' || o || '.' || k)::uuid, md5('impl' || p)::uuid, md5('goal' || p || '.' || o)::uuid,
       o || '.' || k, 'priority',
       (ARRAY['Folkbibliotekens demokratiuppdrag', 'Dans för barn och unga', 'Kultur och hälsa', 'Film och rörlig bild',
              'Arrangörsutveckling', 'Kulturarv i hela länet', 'Musik och scenkonst', 'Litteratur och läsfrämjande',
              'Bild och form', 'Kulturella kreativa näringar'])[k],
       'Prioritering: ' || (ARRAY['stärka', 'utveckla', 'bredda'])[1 + (k % 3)] || ' arbetet inom området.', k
FROM generate_series(1, 3) p, generate_series(1, 3) o, generate_series(1, 10) k;

INSERT INTO actors (id, name, kind, municipality_code)
SELECT md5('kommun' || code)::uuid, name || ' kommun', 'municipality', code
FROM (VALUES ('1814', 'Lekebergs'), ('1860', 'Laxå'), ('1861', 'Hallsbergs'), ('1862', 'Degerfors'),
             ('1863', 'Hällefors'), ('1864', 'Ljusnarsbergs'), ('1880', 'Örebro'), ('1881', 'Kumla'),
             ('1882', 'Askersunds'), ('1883', 'Karlskoga'), ('1884', 'Nora'), ('1885', 'Lindesbergs')) m(code, name);
INSERT INTO actors (id, name, kind) VALUES (md5('region')::uuid, 'Region Örebro län', 'region');
INSERT INTO actors (id, name, kind, parent_id)
SELECT md5('unit' || n)::uuid, 'Enhet ' || n || ' ' || (ARRAY['främjande', 'utveckling', 'strategi', 'samordning'])[1 + n % 4], 'unit', md5('region')::uuid
FROM generate_series(1, 40) n;
INSERT INTO actors (id, name, kind)
SELECT md5('org' || n)::uuid, (ARRAY['Länsteatern', 'Länsmusiken', 'Studieförbundet', 'Föreningen', 'Museet'])[1 + n % 5] || ' ' || n,
       (ARRAY['institution', 'organisation', 'network'])[1 + n % 3]
FROM generate_series(1, 100) n;
INSERT INTO actors (id, name, kind, title)
SELECT md5('person' || n)::uuid, 'Person ' || n, 'person', 'Utvecklingsledare'
FROM generate_series(1, 60) n;

INSERT INTO activities (id, plan_id, goal_id, title, description, start_year, end_year, recurrence, tags, position)
SELECT md5('activity' || n)::uuid,
       md5('impl' || (1 + n % 3))::uuid,
       md5('goal' || (1 + n % 3) || '.' || (1 + (n / 3) % 3) || '.' || (1 + (n / 9) % 10))::uuid,
       (ARRAY['Stärka', 'Utveckla', 'Fördela medel till', 'Arrangera', 'Samordna', 'Finansiera', 'Kartlägga', 'Följa upp'])[1 + floor(random() * 8)::int]
         || ' ' ||
       (ARRAY['folkbibliotekens läsfrämjande', 'dansföreställningar för barn', 'biblioteksutveckling i länet', 'kulturskolornas samverkan',
              'arrangörsnätverk på landsbygden', 'filmvisning på biografer', 'residens för konstnärer', 'kultur och hälsa i äldreomsorgen',
              'musik i skolan', 'Ökad tillgänglighet till kulturarv', 'Åtgärder för nationella minoriteter', 'Ämnesövergripande projekt'])[1 + floor(random() * 12)::int]
         || ' ' || n,
       'Aktivitet nummer ' || n || ' i samverkan med länets kommuner och kulturinstitutioner.',
       2020 + n % 6,
       CASE WHEN n % 4 = 0 THEN 2020 + n % 6 + 2 END,
       CASE WHEN n % 5 = 0 THEN 'annual' ELSE 'none' END,
       CASE WHEN n % 7 = 0 THEN ARRAY['prioriterad'] ELSE '{}'::text[] END,
       n
FROM generate_series(1, 6000) n;

-- One responsible unit and two participating municipalities per activity.
INSERT INTO activity_actors (activity_id, actor_id, role)
SELECT md5('activity' || n)::uuid, md5('unit' || (1 + n % 40))::uuid, 'responsible' FROM generate_series(1, 6000) n;
INSERT INTO activity_actors (activity_id, actor_id, role)
SELECT DISTINCT md5('activity' || n)::uuid, md5('kommun' || code)::uuid, 'participant'
FROM generate_series(1, 6000) n,
     LATERAL (SELECT (ARRAY['1814','1860','1861','1862','1863','1864','1880','1881','1882','1883','1884','1885'])[1 + (n * k * 7 + k) % 12] AS code
              FROM generate_series(1, 2) k) c;
INSERT INTO activity_actors (activity_id, actor_id, role)
SELECT md5('activity' || n)::uuid, md5('org' || (1 + n % 100))::uuid, 'supporting' FROM generate_series(1, 6000) n WHERE n % 2 = 0;

INSERT INTO follow_ups (id, activity_id, year, status, comment, reported_by)
SELECT md5('fu' || n || '.' || y)::uuid, md5('activity' || n)::uuid, y,
       (ARRAY['planned', 'delayed', 'completed', 'ongoing'])[1 + floor(random() * 4)::int],
       'Uppföljning ' || y, 'bench'
FROM generate_series(1, 6000) n, generate_series(2021, 2024) y
WHERE random() < 0.8;

ANALYZE;
