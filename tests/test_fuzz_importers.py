"""Fuzzing the two importers an operator feeds with files from elsewhere: the HSDS directory importer
(flows.directory.import_hsds, behind `dalil directory import` and the console) and the subscribers CSV importer
(messages/importer.py, behind `dalil subscribers import` and the console).

Each must either import or refuse with its own error naming the record or row, and a refusal must leave the
database exactly as it was (all or nothing). HSDS documents are the shipped sample with random mutations (a
value replaced by junk of any JSON type, lone surrogates, huge or non-finite numbers, a key removed), so the
checks deep inside are reached; CSV files mix valid and broken rows, headers, delimiters and encodings.
"""
from __future__ import annotations

import copy
import csv
import io
import json

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings, strategies as st

from flows import directory
from gateway import initialize
from gateway.config import load
from gateway.store import close_thread_connections
from messages.importer import ImportRejected, import_csv
from test_fuzz_support import assert_clean_log, assert_consistent, database_digest, fuzz_examples

FUZZ = settings(max_examples=fuzz_examples(150), deadline=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])

DIRECTORY_TABLES = ["organizations", "services", "locations", "service_at_location", "service_taxonomy", "phones",
                    "schedules"]
SUBSCRIBER_TABLES = ["subscribers", "consent_log", "opt_out_keys"]
SAMPLE = json.loads(directory.DEMO_PACK.read_text(encoding="utf-8"))

surrogates = st.text(st.characters(categories=["Cs"]), min_size=1, max_size=2)
junk_text = st.one_of(st.text(max_size=30), surrogates.map(lambda s: "a" + s), st.sampled_from(
    ["", " ", "x" * 200, "'; DROP TABLE services;--", "{{7*7}}", "<script>alert(1)</script>", "\x00", "tataouine",
     "kairouan", "ben_guerdane", "jobs", "legal", "active", "inactive", "+216 70 000 000", "2026-13-45"]))
junk_number = st.one_of(st.integers(), st.floats(), st.sampled_from([10**30, -(10**30), 2**63, float("inf"),
                                                                     float("nan"), -1, 0, 200]))
junk = st.recursive(st.one_of(st.none(), st.booleans(), junk_number, junk_text),
                    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(junk_text, inner, max_size=3),
                    max_leaves=6)
DELETE = object()


def paths(node, prefix=()):
    """Every place in the document a mutation can hit: object keys and array items, at any depth."""
    yield prefix
    if isinstance(node, dict):
        for k, v in node.items():
            yield from paths(v, prefix + (k,))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield from paths(v, prefix + (i,))


SAMPLE_PATHS = [p for p in paths(SAMPLE) if p]


def mutate(doc, path, value):
    parent = doc
    for step in path[:-1]:
        parent = parent[step]
    if value is DELETE:
        if isinstance(parent, dict):
            parent.pop(path[-1], None)
        else:
            parent.pop(path[-1])
    else:
        parent[path[-1]] = value


@pytest.fixture
def ctx(make_config):
    ctx = initialize(load(make_config()))
    directory.load_demo(ctx.db())
    yield ctx
    close_thread_connections()


@FUZZ
@given(mutations=st.lists(st.tuples(st.sampled_from(SAMPLE_PATHS), st.one_of(junk, st.just(DELETE))),
                          min_size=1, max_size=4),
       shape=st.sampled_from(["as is", "services only", "nested list"]))
def test_hsds_import_either_imports_or_names_the_problem_and_changes_nothing(ctx, mutations, shape):
    doc = copy.deepcopy(SAMPLE)
    for path, value in mutations:
        try:
            mutate(doc, path, value)
        except (KeyError, IndexError, TypeError):
            pass  # an earlier mutation removed or replaced the parent
    if shape == "services only":
        doc = {"services": doc.get("services")} if isinstance(doc, dict) else doc
    elif shape == "nested list":
        doc = doc.get("services") if isinstance(doc, dict) else doc
    db = ctx.db()
    before = database_digest(db, DIRECTORY_TABLES)
    try:
        counts = directory.import_hsds(db, doc)
    except directory.DirectoryImportError as e:
        message = str(e)
        assert message.startswith(("document", "organizations", "services", "locations", "service_at_locations")), \
            message
        assert database_digest(db, DIRECTORY_TABLES) == before, "a refused document changed the directory"
    else:
        assert set(counts) == {"organizations", "services", "locations"}
        # what was imported reads back: the export of it imports again, unchanged
        exported = directory.export_hsds(db)
        directory.import_hsds(db, exported)
        assert directory.export_hsds(db) == exported
    assert_consistent(db)
    assert_clean_log(ctx.config["gateway"]["log_file"])


@FUZZ
@given(doc=junk)
def test_hsds_import_of_any_json_value(ctx, doc):
    db = ctx.db()
    before = database_digest(db, DIRECTORY_TABLES)
    try:
        directory.import_hsds(db, doc)
    except directory.DirectoryImportError:
        assert database_digest(db, DIRECTORY_TABLES) == before


@pytest.mark.parametrize("where, value", [
    (("services", 0, "minimum_age"), 10**30), (("services", 0, "maximum_age"), float("inf")),
    (("locations", 0, "latitude"), float("nan")), (("services", 0, "name"), "Bureau \ud800"),
    (("organizations", 0, "phones", 0, "number"), "+216 70 \udc00")])
def test_numbers_and_texts_sqlite_cannot_store_are_named(ctx, where, value):
    """Python's json reads 1e400 as Infinity, NaN, and \\ud800 escapes; SQLite takes none of them."""
    doc = copy.deepcopy(SAMPLE)
    mutate(doc, where, value)
    with pytest.raises(directory.DirectoryImportError, match=str(where[-1])):
        directory.import_hsds(ctx.db(), doc)


# -- the subscribers CSV ------------------------------------------------------------------------------------------

PHONES = ["20 111 001", "+216 21 111 002", "0021698111003", "50111004", "+21655000111", "216 22 333 444",
          "12", "+33612345678", "0000", "20111001"]
cell = st.one_of(st.sampled_from(PHONES), st.sampled_from(
    ["yes", "oui", "نعم", "x", "1", "no", "", "ar", "fr", "English", "العربية", "kairouan", "Médenine", "tataouine",
     "ben_guerdane", "kairouan_nord", "jobs|training", "jobs;business", "all", "astrology", "paper form"]), junk_text)
COLUMNS = ["phone", "consent", "language", "governorate", "delegation", "interests", "consent_source"]


@st.composite
def csv_files(draw):
    header = draw(st.lists(st.one_of(st.sampled_from(COLUMNS + ["Phone ", "CONSENT", "notes"]), junk_text),
                           min_size=1, max_size=8, unique=True))
    rows = draw(st.lists(st.lists(cell, min_size=0, max_size=len(header) + 2), max_size=12))
    delimiter = draw(st.sampled_from([",", ";", "\t"]))
    out = io.StringIO()
    writer = csv.writer(out, delimiter=delimiter, lineterminator=draw(st.sampled_from(["\n", "\r\n"])))
    writer.writerow(header)
    writer.writerows(rows)
    text = out.getvalue()
    if draw(st.booleans()):
        text = text.replace('"', "", draw(st.integers(0, 3)))  # a broken quote or two
    return ("\ufeff" if draw(st.booleans()) else "") + text


@pytest.fixture
def subscriber_ctx(make_config):
    from messages import subscribers
    ctx = initialize(load(make_config()))
    db = ctx.db()
    subscribers.subscribe(db, "+21620111001", language="ar", channel="sms", via="test")  # already subscribed
    subscribers.subscribe(db, "+21650111004", language="fr", channel="sms", via="test")
    subscribers.opt_out(db, "+21650111004", channel="sms", via="STOP")  # said STOP: never added back
    yield ctx
    close_thread_connections()


@FUZZ
@given(text=csv_files(), dry_run=st.booleans())
def test_csv_import_is_all_or_nothing_and_never_adds_back_a_stop(subscriber_ctx, text, dry_run):
    ctx = subscriber_ctx
    db = ctx.db()
    before = database_digest(db, SUBSCRIBER_TABLES)
    try:
        report = import_csv(ctx, db, io.StringIO(text, newline=""), dry_run=dry_run)
    except ImportRejected as e:
        assert e.report.errors and all(isinstance(row, int) and row >= 1 for row, _, _ in e.report.errors)
        assert all(line.startswith("row ") for line in e.report.lines())
        assert database_digest(db, SUBSCRIBER_TABLES) == before, "a refused file changed the subscribers"
    else:
        after = database_digest(db, SUBSCRIBER_TABLES)
        if dry_run:
            assert after == before
        else:
            assert len(after["subscribers"]) == len(before["subscribers"]) + report.added
    status = db.execute("SELECT status FROM subscribers WHERE phone = '+21650111004'").fetchone()[0]
    assert status == "opted_out"
    assert_consistent(db)
    assert_clean_log(ctx.config["gateway"]["log_file"])


@settings(max_examples=fuzz_examples(25), deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(data=st.one_of(st.binary(max_size=300), csv_files().map(lambda t: t.encode("utf-16", "surrogatepass")),
                      csv_files().map(lambda t: t.encode("utf-8", "surrogatepass"))))
def test_the_import_commands_refuse_any_file_with_a_message_not_a_traceback(make_config, tmp_path, data):
    """What an operator sees at the terminal: exit 0, or exit 1 with the file named; never a Python traceback."""
    from gateway.cli import main
    config = make_config()
    toml = tmp_path / "dalil.toml"
    toml.write_text(f'[gateway]\ndatabase = "{config["gateway"]["database"]}"\nkeys_dir = "{tmp_path / "keys"}"\n'
                    f'log_file = "{config["gateway"]["log_file"]}"\n')
    upload = tmp_path / "upload.bin"
    upload.write_bytes(data)
    runner = CliRunner()
    assert runner.invoke(main, ["--config", str(toml), "init"]).exit_code == 0
    for command in (["subscribers", "import", str(upload)], ["directory", "import", str(upload)]):
        result = runner.invoke(main, ["--config", str(toml), *command])
        assert result.exit_code in (0, 1), (command, result.output, result.exception)
        assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
        if result.exit_code == 1:
            assert str(upload) in result.output
    close_thread_connections()

