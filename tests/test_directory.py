"""The programme/service directory: demo pack, menus' queries, HSDS import/export, the `dalil directory` command."""
from __future__ import annotations

import copy
import json
import shutil
import subprocess
import sys

import pytest

from flows import directory
from flows.directory import DirectoryImportError
from gateway import create_app
from harness import PAYLOADS


def db_of(app):
    return app.extensions["dalil"].db()


def payload(name):
    return json.loads((PAYLOADS / name).read_text(encoding="utf-8"))


def short_names(services, lang="fr"):
    return [s["short_name"][lang] for s in services]


@pytest.fixture
def other_db(make_config, tmp_path):
    """A second, empty gateway database, to import into."""
    return db_of(create_app(make_config(gateway={"database": str(tmp_path / "other.db")})))


# -- demo pack --------------------------------------------------------------------------------------------

def test_demo_pack_says_it_is_sample_data_and_uses_fictional_numbers():
    pack = json.loads(directory.DEMO_PACK.read_text(encoding="utf-8"))
    assert pack["sample"] is True
    assert "SAMPLE DATA" in pack["description"]
    records = pack["organizations"] + pack["locations"]
    numbers = [phone["number"] for record in records for phone in record.get("phones", [])]
    assert numbers and all(n.startswith("+216 70 000 ") for n in numbers)


def test_demo_loads_once_and_a_second_load_changes_nothing(app):
    db = db_of(app)
    assert directory.count_services(db) == 0
    assert directory.load_demo(db) == 25
    before = directory.export_hsds(db)
    assert directory.load_demo(db) == 25
    assert directory.count_services(db) == 25
    assert directory.export_hsds(db) == before
    assert before["sample"] is True and "SAMPLE DATA" in before["description"]
    assert all(s["x-dalil"]["sample"] for s in before["services"])


def test_every_demo_service_has_three_languages_and_a_short_name_that_fits_a_ussd_list(demo_app):
    db = db_of(demo_app)
    for record in directory.list_all(db, "services"):
        detail = directory.service(db, record["id"])
        for field in ("name", "short_name", "description"):
            assert all(detail[field][lang] for lang in ("ar", "fr", "en")), (record["id"], field)
        assert all(len(detail["short_name"][lang]) <= 24 for lang in ("ar", "fr", "en"))
        assert detail["phone"].startswith("+216 70 000 ")


# -- areas and menus ---------------------------------------------------------------------------------------

def test_governorates_put_the_corridor_first_then_the_rest_by_french_name(app):
    govs = directory.governorates(db_of(app))
    assert len(govs) == 24
    assert [g["code"] for g in govs[:3]] == ["kairouan", "medenine", "tataouine"]
    assert govs[2]["name"] == {"ar": "تطاوين", "fr": "Tataouine", "en": "Tataouine"}
    rest = [g["name"]["fr"] for g in govs[3:]]
    assert rest[:4] == ["Ariana", "Béja", "Ben Arous", "Bizerte"]
    assert rest[-1] == "Zaghouan"


def test_delegations_of_the_corridor(app):
    db = db_of(app)
    tataouine = [d["name"]["fr"] for d in directory.delegations(db, "tataouine")]
    assert set(tataouine) == {"Tataouine Nord", "Tataouine Sud", "Ghomrassen", "Bir Lahmar", "Remada",
                              "Dehiba", "Smâr"}
    medenine = [d["code"] for d in directory.delegations(db, "medenine")]
    assert {"ben_guerdane", "zarzis", "djerba_houmt_souk"} <= set(medenine)
    assert len(directory.delegations(db, "kairouan")) == 11
    assert directory.delegations(db, "nowhere") == []
    assert directory.area_name(db, "ben_guerdane") == {"ar": "بن قردان", "fr": "Ben Guerdane",
                                                       "en": "Ben Guerdane"}
    assert directory.area_name(db, "atlantis") is None


def test_list_services_shows_local_offices_first_then_national_programmes(demo_app):
    db = db_of(demo_app)
    tataouine = directory.list_services(db, ["jobs"], "tataouine")
    assert short_names(tataouine)[0] == "Bureau emploi Tataouine"
    assert "Bureau emploi Kairouan" not in short_names(tataouine)
    assert {"Aide recherche emploi", "Emploi à l'étranger"} <= set(short_names(tataouine))
    # a governorate with no office of its own still gets the national programmes
    assert set(short_names(directory.list_services(db, ["jobs"], "sfax"))) == set(short_names(tataouine)[1:])
    medenine = short_names(directory.list_services(db, ["jobs"], "medenine"))
    assert medenine[:3] == ["Emploi Ben Guerdane", "Bureau emploi Médenine", "Bureau emploi Zarzis"]
    everywhere = short_names(directory.list_services(db, ["jobs"], None))
    assert {"Bureau emploi Kairouan", "Bureau emploi Tataouine", "Aide recherche emploi"} <= set(everywhere)


def test_list_services_filters_by_category(demo_app):
    db = db_of(demo_app)
    municipal = directory.list_services(db, ["municipal"], "medenine")
    assert short_names(municipal) == ["Espace citoyen Médenine", "Accès à l'information"]
    assert short_names(municipal, "ar")[0] == "فضاء المواطن مدنين"
    business = short_names(directory.list_services(db, ["business"], "tataouine"))
    assert business[:3] == ["Entreprendre Tataouine", "Incubateur Tataouine", "Microcrédit BTS"]
    assert "Incubateur Tataouine" not in short_names(directory.list_services(db, ["business"], "kairouan"))
    both = directory.list_services(db, ["business", "training"], "tataouine")
    assert len(both) == len({s["id"] for s in both})  # a service in two categories is listed once
    assert directory.list_services(db, [], "tataouine") == []
    assert directory.list_services(db, ["legal"], "tataouine") == []


def test_microcredit_offered_at_branches_is_also_listed_everywhere_as_national(demo_app):
    db = db_of(demo_app)
    assert "Microcrédit BTS" in short_names(directory.list_services(db, ["business"], "gafsa"))


def test_service_detail_has_localized_texts_address_schedule_and_phone(demo_app):
    db = db_of(demo_app)
    sid = directory.list_services(db, ["jobs"], "tataouine")[0]["id"]
    detail = directory.service(db, sid)
    assert detail["name"]["fr"] == "Bureau de l'emploi de Tataouine"
    assert detail["name"]["ar"] == "مكتب التشغيل بتطاوين"
    assert detail["address"]["en"] == "Town centre, Tataouine"
    assert detail["schedule"]["fr"] == "Du lundi au vendredi, de 8h30 à 17h30"
    assert detail["organization"]["en"].endswith("(ANETI)")
    assert detail["categories"] == ["jobs"]
    assert detail["phone"].startswith("+216 70 000 ")
    assert detail["national"] is False
    assert directory.service(db, "no-such-service") is None


def test_a_national_programme_has_no_address_and_the_organisation_phone(demo_app):
    db = db_of(demo_app)
    national = directory.list_services(db, ["jobs"], "sfax")[0]
    detail = directory.service(db, national["id"])
    assert detail["address"] is None and detail["national"] is True
    assert detail["phone"] == "+216 70 000 001"  # ANETI's (fictional) number


def test_branch_address_follows_the_callers_governorate(demo_app):
    db = db_of(demo_app)
    listed = directory.list_services(db, ["business"], None)
    sid = next(s["id"] for s in listed if s["short_name"]["fr"] == "Microcrédit BTS")
    assert directory.service(db, sid, governorate="medenine")["address"]["fr"] == "Centre-ville, Médenine"
    assert directory.service(db, sid, governorate="kairouan")["address"]["fr"] == "Centre-ville, Kairouan"


# -- staff console functions ---------------------------------------------------------------------------------

def test_retired_service_disappears_from_menus_and_comes_back_when_reactivated(demo_app):
    db = db_of(demo_app)
    sid = directory.list_services(db, ["jobs"], "tataouine")[0]["id"]
    assert directory.retire_service(db, sid) is True
    assert "Bureau emploi Tataouine" not in short_names(directory.list_services(db, ["jobs"], "tataouine"))
    assert directory.service(db, sid) is None
    record = next(r for r in directory.list_all(db, "services") if r["id"] == sid)
    assert record["status"] == "inactive"
    assert directory.retire_service(db, "no-such-service") is False
    directory.upsert_service(db, {**record, "status": "active"})
    assert short_names(directory.list_services(db, ["jobs"], "tataouine"))[0] == "Bureau emploi Tataouine"


def test_upsert_service_edits_a_name_and_keeps_its_location(demo_app):
    db = db_of(demo_app)
    record = directory.list_all(db, "services")[0]
    edited = copy.deepcopy(record)
    edited["x-dalil"]["translations"]["name"]["en"] = "Renamed service"
    directory.upsert_service(db, edited)
    assert directory.service(db, record["id"])["name"]["en"] == "Renamed service"
    assert directory.count_services(db) == 25


def test_list_all_returns_each_kind(demo_app):
    db = db_of(demo_app)
    assert len(directory.list_all(db, "services")) == 25
    assert len(directory.list_all(db, "organizations")) == 8
    assert len(directory.list_all(db, "locations")) == 20
    with pytest.raises(ValueError, match="kind must be one of"):
        directory.list_all(db, "people")


# -- HSDS import and export --------------------------------------------------------------------------------

def test_nested_hsds_document_imports_and_lists(app):
    db = db_of(app)
    counts = directory.import_hsds(db, payload("hsds_nested.json"))
    assert counts == {"organizations": 1, "services": 2, "locations": 1}
    assert short_names(directory.list_services(db, ["jobs"], "tataouine")) == ["Bureau emploi Remada"]
    assert directory.list_services(db, ["jobs"], "kairouan") == []
    legal = directory.list_services(db, ["legal"], "kairouan")  # no location: national
    assert short_names(legal, "en") == ["Legal advice line"]
    detail = directory.service(db, "svc-remada-jobs")
    assert detail["address"] == {"ar": "وسط المدينة، رمادة", "fr": "Centre-ville, Remada",
                                 "en": "Town centre, Remada"}
    assert detail["schedule"]["en"] == "Monday to Thursday, 8:00-13:00"
    assert detail["phone"] == "+216 70 000 901"
    location = directory.list_all(db, "locations")[0]
    assert location["x-dalil"]["governorate"] == "tataouine"  # matched from the address's state_province
    assert location["x-dalil"]["delegation"] == "remada"


def test_reimporting_the_same_ids_updates_instead_of_duplicating(app):
    db = db_of(app)
    doc = payload("hsds_nested.json")
    directory.import_hsds(db, doc)
    doc[0]["name"] = "Bureau de l'emploi de Remada (nouvelle adresse)"
    directory.import_hsds(db, doc)
    assert directory.count_services(db) == 2
    assert directory.service(db, "svc-remada-jobs")["name"]["fr"].endswith("(nouvelle adresse)")


@pytest.mark.parametrize("source", ["demo", "hsds_nested.json"])
def test_export_then_import_into_an_empty_database_gives_the_same_export(app, other_db, source):
    db = db_of(app)
    if source == "demo":
        directory.load_demo(db)
    else:
        directory.import_hsds(db, payload(source))
    exported = directory.export_hsds(db)
    counts = directory.import_hsds(other_db, json.loads(json.dumps(exported)))
    assert counts["services"] == len(exported["services"])
    assert directory.export_hsds(other_db) == exported


def test_export_is_hsds_shaped(demo_app):
    doc = directory.export_hsds(db_of(demo_app))
    service = doc["services"][0]
    assert {"id", "organization_id", "name", "description", "status", "attributes"} <= set(service)
    assert service["attributes"][0]["taxonomy_term"]["code"] in {"jobs", "training", "business", "municipal",
                                                                 "documents"}
    assert set(service["x-dalil"]["short_name"]) == {"ar", "fr", "en"}
    link = doc["service_at_locations"][0]
    assert set(link) == {"id", "service_id", "location_id"}


BAD_DOCUMENTS = [
    ("hsds_bad_missing_name.json", 'services[1] (id "svc-national-legal"): name: missing'),
    ("hsds_bad_taxonomy.json", "services[1] (id \"svc-national-legal\"): attributes[0].taxonomy_term.code: "
                               "unknown taxonomy code 'housing'"),
    ("hsds_bad_language.json", 'services[1] (id "svc-national-legal"): x-dalil.translations.description.en: '
                               "missing the 'en' text"),
]


@pytest.mark.parametrize("name, message", BAD_DOCUMENTS)
def test_a_bad_document_is_rejected_naming_record_and_field_and_imports_nothing(demo_app, name, message):
    db = db_of(demo_app)
    before = directory.export_hsds(db)
    with pytest.raises(DirectoryImportError) as raised:
        directory.import_hsds(db, payload(name))
    assert message in str(raised.value)
    assert directory.export_hsds(db) == before  # not even the valid first record was written
    assert directory.service(db, "svc-remada-jobs") is None


TOO_LONG_AR = "مكتب التشغيل والعمل المستقل برمادة"  # 34 characters: a USSD list line takes 24


@pytest.mark.parametrize("change, message", [
    (lambda d: d[0]["x-dalil"]["short_name"].update(ar=TOO_LONG_AR),
     'services[0] (id "svc-remada-jobs"): x-dalil.short_name.ar: 34 characters, at most 24'),
    (lambda d: d[0]["service_at_locations"][0]["location"]["x-dalil"].update(delegation="zarzis"),
     "location (id \"loc-remada\"): x-dalil.delegation: 'zarzis' is not a delegation of 'tataouine'"),
    (lambda d: d[1].update(organization_id="org-nobody"),
     "services[1] (id \"svc-national-legal\"): organization_id: unknown organization 'org-nobody'"),
    (lambda d: d[1].update(id="not an id!"), 'services[1] (id "not an id!"): id: expected up to 100 letters'),
    (lambda d: d[0]["phones"][0].update(number="call us"), "phones[0].number: expected a phone number"),
    (lambda d: d[0].update(status="open"), "status: expected one of active, inactive"),
    # fields Dalil does not store are still checked against the HSDS 3.0 schema
    (lambda d: d[0].update(fees_description=5), 'services[0] (id "svc-remada-jobs"): fees_description: '
                                                "expected a string, got 5"),
    (lambda d: d[0]["service_at_locations"][0]["location"]["schedules"][0].update(freq="weekly"),
     'location (id "loc-remada"): schedules[0].freq: expected one of WEEKLY, MONTHLY, got \'weekly\''),
    (lambda d: d[0]["service_at_locations"][0]["location"].update(location_type="office"),
     'location (id "loc-remada"): location_type: expected one of physical, postal, virtual, got \'office\''),
    (lambda d: d[0]["organization"].update(website=["a", "b"]),
     'services[0] (id "svc-remada-jobs") > organization (id "org-test-agency"): website: expected a string'),
    # and the x-dalil extension against Dalil's own schema
    (lambda d: d[1]["x-dalil"].update(national="yes"),
     'services[1] (id "svc-national-legal"): x-dalil.national: expected true or false, got \'yes\''),
    (lambda d: d[0]["x-dalil"]["short_name"].update(en=24),
     'services[0] (id "svc-remada-jobs"): x-dalil.short_name.en: expected a string, got 24'),
])
def test_other_mistakes_are_named_precisely(app, change, message):
    doc = payload("hsds_nested.json")
    change(doc)
    with pytest.raises(DirectoryImportError) as raised:
        directory.import_hsds(db_of(app), doc)
    assert message in str(raised.value)
    assert directory.count_services(db_of(app)) == 0


def test_a_refusal_carries_its_record_and_field(app):
    """The console shows an importer's refusal next to the form field it is about: from these, not the text."""
    doc = payload("hsds_nested.json")
    doc[0]["x-dalil"]["short_name"]["ar"] = TOO_LONG_AR
    with pytest.raises(DirectoryImportError) as raised:
        directory.import_hsds(db_of(app), doc)
    assert raised.value.record == 'services[0] (id "svc-remada-jobs")'
    assert raised.value.field == "x-dalil.short_name.ar"
    from gateway.console.directory_forms import form_field
    assert form_field(raised.value.field) == "short_ar"


def test_the_export_is_valid_hsds_3(demo_app):
    """Every exported record passes the vendored HSDS 3.0 schema (and the x-dalil one) as an import checks it."""
    from flows.directory import schema
    doc = directory.export_hsds(db_of(demo_app))
    kinds = {"organizations": "organization", "services": "service", "locations": "location"}
    checked = 0
    for kind, records in kinds.items():
        for record in doc[kind]:
            schema.check(records, record)
            checked += 1
    assert checked == sum(len(doc[k]) for k in kinds) > 50


def test_a_document_that_is_not_hsds_is_rejected(app):
    with pytest.raises(DirectoryImportError, match="expected a list of HSDS services"):
        directory.import_hsds(db_of(app), {"hello": "world"})


# -- the `dalil directory` command ---------------------------------------------------------------------------

@pytest.fixture
def dalil(tmp_path):
    config = tmp_path / "dalil.toml"
    config.write_text('[gateway]\ndatabase = "cli.db"\nkeys_dir = "keys"\n', encoding="utf-8")
    command = [shutil.which("dalil")] if shutil.which("dalil") else [sys.executable, "-m", "gateway.cli"]

    def run(*args):
        return subprocess.run([*command, "--config", str(config), "directory", *args], cwd=tmp_path,
                              capture_output=True, text=True, timeout=60)
    subprocess.run([*command, "--config", str(config), "init"], check=True, capture_output=True, timeout=60)
    return run


def test_cli_imports_lists_and_exports(dalil, tmp_path):
    done = dalil("import", str(directory.DEMO_PACK))
    assert done.returncode == 0, done.stderr
    assert "imported 8 organizations, 25 services, 20 locations" in done.stdout

    listed = dalil("list", "--category", "jobs", "--governorate", "tataouine")
    assert listed.returncode == 0, listed.stderr
    assert listed.stdout.splitlines()[0].split("  ")[1].strip() == "Bureau emploi Tataouine"
    assert "5 services" in listed.stderr

    out = tmp_path / "export.json"
    exported = dalil("export", "--output", str(out))
    assert exported.returncode == 0, exported.stderr
    doc = json.loads(out.read_text(encoding="utf-8"))
    assert len(doc["services"]) == 25 and doc["sample"] is True
    to_stdout = dalil("export")
    assert json.loads(to_stdout.stdout) == doc


def test_cli_rejects_a_bad_file_with_exit_1_and_a_clear_message(dalil):
    done = dalil("import", str(PAYLOADS / "hsds_bad_taxonomy.json"))
    assert done.returncode == 1
    assert "unknown taxonomy code 'housing'" in done.stderr
    assert 'services[1] (id "svc-national-legal")' in done.stderr
    missing = dalil("import", "nowhere.json")
    assert missing.returncode == 1 and "no such file" in missing.stderr
    unknown = dalil("list", "--governorate", "atlantis")
    assert unknown.returncode == 1 and "unknown governorate 'atlantis'" in unknown.stderr
