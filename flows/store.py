"""SQL of the flows package: the programme/service directory, shaped after Open Referral HSDS 3.0.

Every user-facing text has one column per language (``name_ar``, ``name_fr``, ``name_en``): a caller's screen
reads one row, with no join per text. The reference data that menus and other packages rely on (the taxonomy
codes, the governorates and delegations) is seeded by the same migration, so it exists without the demo pack.

To change reference data once released, add a migration; never edit the seeded tuples below in place, since a
database that already ran the first script would not see the change.
"""
from __future__ import annotations

import unicodedata

# (code, kind, ar, fr, en). The codes are a contract: menus and referral routing use these exact strings.
# "information" terms are what the information line browses; "help" terms are what a CSO referral is about.
TAXONOMY = (
    ("jobs", "information", "التشغيل", "Emploi", "Jobs"),
    ("training", "information", "التكوين", "Formation", "Training"),
    ("business", "information", "بعث المشاريع", "Créer son projet", "Business support"),
    ("municipal", "information", "الخدمات البلدية", "Services municipaux", "Municipal services"),
    ("legal", "help", "مساعدة قانونية", "Aide juridique", "Legal aid"),
    ("documents", "help", "الوثائق", "Papiers et documents", "Documents"),
    ("health", "help", "الصحة", "Santé", "Health"),
    ("shelter", "help", "الإيواء", "Hébergement", "Shelter"),
    ("protection", "help", "الحماية", "Protection", "Protection"),
    ("food", "help", "الغذاء", "Aide alimentaire", "Food"),
    ("work", "help", "مشاكل في العمل", "Problèmes au travail", "Problems at work"),
)

# The 24 governorates: (code, ar, fr, en). Shown in menus, so the names must be the ones people use.
GOVERNORATES = (
    ("ariana", "أريانة", "Ariana", "Ariana"),
    ("beja", "باجة", "Béja", "Beja"),
    ("ben_arous", "بن عروس", "Ben Arous", "Ben Arous"),
    ("bizerte", "بنزرت", "Bizerte", "Bizerte"),
    ("gabes", "قابس", "Gabès", "Gabes"),
    ("gafsa", "قفصة", "Gafsa", "Gafsa"),
    ("jendouba", "جندوبة", "Jendouba", "Jendouba"),
    ("kairouan", "القيروان", "Kairouan", "Kairouan"),
    ("kasserine", "القصرين", "Kasserine", "Kasserine"),
    ("kebili", "قبلي", "Kébili", "Kebili"),
    ("kef", "الكاف", "Le Kef", "Kef"),
    ("mahdia", "المهدية", "Mahdia", "Mahdia"),
    ("manouba", "منوبة", "La Manouba", "Manouba"),
    ("medenine", "مدنين", "Médenine", "Medenine"),
    ("monastir", "المنستير", "Monastir", "Monastir"),
    ("nabeul", "نابل", "Nabeul", "Nabeul"),
    ("sfax", "صفاقس", "Sfax", "Sfax"),
    ("sidi_bouzid", "سيدي بوزيد", "Sidi Bouzid", "Sidi Bouzid"),
    ("siliana", "سليانة", "Siliana", "Siliana"),
    ("sousse", "سوسة", "Sousse", "Sousse"),
    ("tataouine", "تطاوين", "Tataouine", "Tataouine"),
    ("tozeur", "توزر", "Tozeur", "Tozeur"),
    ("tunis", "تونس", "Tunis", "Tunis"),
    ("zaghouan", "زغوان", "Zaghouan", "Zaghouan"),
)

# The corridor the service was built for comes first in menus; the rest follow alphabetically (French names).
CORRIDOR = ("kairouan", "medenine", "tataouine")

# Delegations of the corridor governorates: (code, ar, fr, en). Used for menus (the caller picks one), so
# spellings follow common official usage; Echbika is also written Chebika.
DELEGATIONS = {
    "kairouan": (
        ("kairouan_nord", "القيروان الشمالية", "Kairouan Nord", "Kairouan North"),
        ("kairouan_sud", "القيروان الجنوبية", "Kairouan Sud", "Kairouan South"),
        ("echbika", "الشبيكة", "Echbika", "Echbika"),
        ("sbikha", "السبيخة", "Sbikha", "Sbikha"),
        ("oueslatia", "الوسلاتية", "Oueslatia", "Oueslatia"),
        ("haffouz", "حفوز", "Haffouz", "Haffouz"),
        ("el_alaa", "العلا", "El Alâa", "El Alaa"),
        ("hajeb_el_ayoun", "حاجب العيون", "Hajeb El Ayoun", "Hajeb El Ayoun"),
        ("nasrallah", "نصر الله", "Nasrallah", "Nasrallah"),
        ("chrarda", "الشراردة", "Chrarda", "Chrarda"),
        ("bou_hajla", "بوحجلة", "Bou Hajla", "Bou Hajla"),
    ),
    "medenine": (
        ("medenine_nord", "مدنين الشمالية", "Médenine Nord", "Medenine North"),
        ("medenine_sud", "مدنين الجنوبية", "Médenine Sud", "Medenine South"),
        ("ben_guerdane", "بن قردان", "Ben Guerdane", "Ben Guerdane"),
        ("zarzis", "جرجيس", "Zarzis", "Zarzis"),
        ("djerba_houmt_souk", "جربة حومة السوق", "Djerba Houmt Souk", "Djerba Houmt Souk"),
        ("djerba_midoun", "جربة ميدون", "Djerba Midoun", "Djerba Midoun"),
        ("djerba_ajim", "جربة أجيم", "Djerba Ajim", "Djerba Ajim"),
        ("beni_khedache", "بني خداش", "Beni Khedache", "Beni Khedache"),
        ("sidi_makhlouf", "سيدي مخلوف", "Sidi Makhlouf", "Sidi Makhlouf"),
    ),
    "tataouine": (
        ("tataouine_nord", "تطاوين الشمالية", "Tataouine Nord", "Tataouine North"),
        ("tataouine_sud", "تطاوين الجنوبية", "Tataouine Sud", "Tataouine South"),
        ("ghomrassen", "غمراسن", "Ghomrassen", "Ghomrassen"),
        ("bir_lahmar", "بئر الأحمر", "Bir Lahmar", "Bir Lahmar"),
        ("remada", "رمادة", "Remada", "Remada"),
        ("dehiba", "الذهيبة", "Dehiba", "Dehiba"),
        ("smar", "الصمار", "Smâr", "Smar"),
    ),
}


def sort_key(text: str) -> str:
    """Accent- and case-insensitive key, so "Béja" sorts before "Ben Arous" as a French reader expects."""
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c)).casefold()


SCHEMA = """
CREATE TABLE areas (
    code TEXT PRIMARY KEY,
    level TEXT NOT NULL CHECK (level IN ('governorate', 'delegation')),
    parent_code TEXT REFERENCES areas(code),
    name_ar TEXT NOT NULL,
    name_fr TEXT NOT NULL,
    name_en TEXT NOT NULL,
    position INTEGER NOT NULL
);
CREATE INDEX areas_menu ON areas(level, parent_code, position);

CREATE TABLE taxonomy_terms (
    code TEXT PRIMARY KEY,
    kind TEXT NOT NULL CHECK (kind IN ('information', 'help')),
    name_ar TEXT NOT NULL,
    name_fr TEXT NOT NULL,
    name_en TEXT NOT NULL,
    position INTEGER NOT NULL
);

CREATE TABLE organizations (
    id TEXT PRIMARY KEY,
    name_ar TEXT NOT NULL,
    name_fr TEXT NOT NULL,
    name_en TEXT NOT NULL,
    description_ar TEXT,
    description_fr TEXT,
    description_en TEXT,
    website TEXT,
    email TEXT,
    sample INTEGER NOT NULL DEFAULT 0
);

CREATE TABLE services (
    id TEXT PRIMARY KEY,
    organization_id TEXT NOT NULL REFERENCES organizations(id),
    name_ar TEXT NOT NULL,
    name_fr TEXT NOT NULL,
    name_en TEXT NOT NULL,
    -- shown in USSD list screens, which hold about 80 characters in Arabic
    short_name_ar TEXT NOT NULL CHECK (length(short_name_ar) <= 24),
    short_name_fr TEXT NOT NULL CHECK (length(short_name_fr) <= 24),
    short_name_en TEXT NOT NULL CHECK (length(short_name_en) <= 24),
    description_ar TEXT NOT NULL,
    description_fr TEXT NOT NULL,
    description_en TEXT NOT NULL,
    -- eligibility lives here rather than in its own table: HSDS 3.0 keeps it on the service too
    eligibility_ar TEXT,
    eligibility_fr TEXT,
    eligibility_en TEXT,
    minimum_age INTEGER,
    maximum_age INTEGER,
    url TEXT,
    email TEXT,
    status TEXT NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'retired')),
    -- offered everywhere, even when only some offices are listed as locations
    national INTEGER NOT NULL DEFAULT 0,
    sample INTEGER NOT NULL DEFAULT 0,
    sort_name TEXT NOT NULL
);
CREATE INDEX services_listing ON services(status, sort_name);
CREATE INDEX services_organization ON services(organization_id);

CREATE TABLE service_taxonomy (
    term_code TEXT NOT NULL REFERENCES taxonomy_terms(code),
    service_id TEXT NOT NULL REFERENCES services(id) ON DELETE CASCADE,
    PRIMARY KEY (term_code, service_id)
) WITHOUT ROWID;
CREATE INDEX service_taxonomy_service ON service_taxonomy(service_id);

CREATE TABLE locations (
    id TEXT PRIMARY KEY,
    name_ar TEXT NOT NULL,
    name_fr TEXT NOT NULL,
    name_en TEXT NOT NULL,
    address_ar TEXT,
    address_fr TEXT,
    address_en TEXT,
    governorate TEXT NOT NULL REFERENCES areas(code),
    delegation TEXT REFERENCES areas(code),
    latitude REAL,
    longitude REAL,
    sample INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX locations_governorate ON locations(governorate);

CREATE TABLE service_at_location (
    id TEXT PRIMARY KEY,
    service_id TEXT NOT NULL REFERENCES services(id) ON DELETE CASCADE,
    location_id TEXT NOT NULL REFERENCES locations(id) ON DELETE CASCADE,
    UNIQUE (service_id, location_id)
);
CREATE INDEX service_at_location_location ON service_at_location(location_id);

-- public office numbers only; a caller's number never goes here
CREATE TABLE phones (
    id TEXT PRIMARY KEY,
    organization_id TEXT REFERENCES organizations(id) ON DELETE CASCADE,
    service_id TEXT REFERENCES services(id) ON DELETE CASCADE,
    location_id TEXT REFERENCES locations(id) ON DELETE CASCADE,
    number TEXT NOT NULL,
    type TEXT,
    position INTEGER NOT NULL DEFAULT 0,
    CHECK ((organization_id IS NOT NULL) + (service_id IS NOT NULL) + (location_id IS NOT NULL) = 1)
);
CREATE INDEX phones_organization ON phones(organization_id);
CREATE INDEX phones_service ON phones(service_id);
CREATE INDEX phones_location ON phones(location_id);

CREATE TABLE schedules (
    id TEXT PRIMARY KEY,
    service_id TEXT REFERENCES services(id) ON DELETE CASCADE,
    location_id TEXT REFERENCES locations(id) ON DELETE CASCADE,
    description_ar TEXT NOT NULL,
    description_fr TEXT NOT NULL,
    description_en TEXT NOT NULL,
    freq TEXT,
    byday TEXT,
    opens_at TEXT,
    closes_at TEXT,
    position INTEGER NOT NULL DEFAULT 0,
    CHECK ((service_id IS NOT NULL) + (location_id IS NOT NULL) = 1)
);
CREATE INDEX schedules_service ON schedules(service_id);
CREATE INDEX schedules_location ON schedules(location_id);
"""


def _quote(value) -> str:
    if value is None:
        return "NULL"
    if isinstance(value, int):
        return str(value)
    return "'" + str(value).replace("'", "''") + "'"


def _insert(table: str, rows: list[tuple]) -> str:
    values = ",\n".join("(" + ", ".join(_quote(v) for v in row) + ")" for row in rows)
    return f"INSERT INTO {table} VALUES\n{values};\n"


def _governorate_rows() -> list[tuple]:
    rest = sorted((g for g in GOVERNORATES if g[0] not in CORRIDOR), key=lambda g: sort_key(g[2]))
    corridor = sorted((g for g in GOVERNORATES if g[0] in CORRIDOR), key=lambda g: CORRIDOR.index(g[0]))
    return [(code, "governorate", None, ar, fr, en, i) for i, (code, ar, fr, en) in enumerate(corridor + rest)]


def _delegation_rows() -> list[tuple]:
    rows = []
    for parent, delegations in DELEGATIONS.items():
        ordered = sorted(delegations, key=lambda d: sort_key(d[2]))
        rows += [(code, "delegation", parent, ar, fr, en, i) for i, (code, ar, fr, en) in enumerate(ordered)]
    return rows


def _seed() -> str:
    taxonomy = [(code, kind, ar, fr, en, i) for i, (code, kind, ar, fr, en) in enumerate(TAXONOMY)]
    return (_insert("taxonomy_terms", taxonomy) + _insert("areas", _governorate_rows())
            + _insert("areas", _delegation_rows()))


MIGRATIONS: list[str] = [
    SCHEMA + _seed(),
    # the one-screen USSD summary of a service, per language (x-dalil.ussd_summary); the full text goes by SMS
    "ALTER TABLE services ADD COLUMN ussd_summary_ar TEXT;\n"
    "ALTER TABLE services ADD COLUMN ussd_summary_fr TEXT;\n"
    "ALTER TABLE services ADD COLUMN ussd_summary_en TEXT;\n",
]
