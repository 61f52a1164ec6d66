"""An imported document turned into rows, every record checked before anything is written: its shape against
the HSDS 3.0 schema and Dalil's extension (schema.py), then what Dalil needs of it (ids, texts in three
languages, known categories and areas, phone numbers, short names and summaries that fit a USSD screen)."""
from __future__ import annotations

from flows.directory import fields, schema, store
from flows.directory.fields import BASE_LANG, EXT, LANGS
from flows.store import sort_key

SHORT_NAME_MAX = 24
STATUS_IN = {"active": "active", "inactive": "retired", "defunct": "retired", "temporarily closed": "retired"}


def _check_shape(kind: str, rec, where: str) -> None:
    try:
        schema.check(kind, rec)
    except schema.ShapeError as e:
        fields.fail(where, e.field, e.problem)


class Batch:
    """Everything a document holds, checked and turned into rows, before anything is written."""

    def __init__(self, db, sample: bool):
        self.db = db
        self.sample = sample
        self.terms = store.term_codes(db)
        self.areas = store.area_levels(db)
        self.organizations: dict[str, dict] = {}
        self.locations: dict[str, dict] = {}
        self.services: dict[str, dict] = {}
        self.categories: dict[str, list[str]] = {}
        self.links: dict[str, dict] = {}          # service_at_location rows by id
        self.linked: set[str] = set()             # services whose locations the document lists in full
        self.owned: dict[str, dict[tuple, list]] = {"phones": {}, "schedules": {}}  # (owner column, id) -> rows

    # organisations ----------------------------------------------------------------------------------------

    def organization(self, rec, where: str) -> str:
        _check_shape("organization", rec, where)
        oid = fields.record_id(rec, where)
        row = {"id": oid,
               **fields.columns("name", fields.translated(rec, where, "name", required=True)),
               **fields.columns("description", fields.translated(rec, where, "description", required=False)),
               "website": fields.clean(rec.get("website"), where, "website"),
               "email": fields.clean(rec.get("email"), where, "email"),
               "sample": int(self.sample or fields.flag(rec, where, "sample"))}
        self._keep(self.organizations, row, where)
        self._phones(rec, where, "organization_id", oid)
        return oid

    # locations --------------------------------------------------------------------------------------------

    def location(self, rec, where: str) -> str:
        _check_shape("location", rec, where)
        lid = fields.record_id(rec, where)
        addresses = fields.array(rec.get("addresses"), where, "addresses")
        address = fields.object(addresses[0], where, "addresses[0]") if addresses else {}
        governorate, delegation = self._areas_of(rec, address, where)
        row = {"id": lid,
               **fields.columns("name", fields.translated(rec, where, "name", required=True)),
               **fields.columns("address", fields.localized(
                   where, f"{EXT}.translations.address", address.get("address_1"),
                   fields.translations(rec, where).get("address"), False, "addresses[0].address_1")),
               "governorate": governorate, "delegation": delegation,
               "latitude": fields.number(rec, where, "latitude"),
               "longitude": fields.number(rec, where, "longitude"),
               "sample": int(self.sample or fields.flag(rec, where, "sample"))}
        self._keep(self.locations, row, where)
        self._phones(rec, where, "location_id", lid)
        self._schedules(rec, where, "location_id", lid)
        return lid

    def _areas_of(self, rec: dict, address: dict, where: str) -> tuple[str, str | None]:
        ext = fields.ext(rec, where)
        governorate = ext.get("governorate") or self._governorate_named(address.get("state_province"))
        if not governorate:
            fields.fail(where, f"{EXT}.governorate", "missing (an area code such as 'tataouine')")
        if self._area(governorate)[0] != "governorate":
            fields.fail(where, f"{EXT}.governorate", f"unknown governorate code {governorate!r}")
        delegation = ext.get("delegation")
        if delegation is not None and self._area(delegation) != ("delegation", governorate):
            fields.fail(where, f"{EXT}.delegation", f"{delegation!r} is not a delegation of {governorate!r}")
        return governorate, delegation

    def _area(self, code) -> tuple:
        return self.areas.get(code, ("", None)) if isinstance(code, str) else ("", None)

    def _governorate_named(self, name) -> str | None:
        if not isinstance(name, str) or not name.strip():
            return None
        wanted = sort_key(name.strip())
        return next((r["code"] for r in store.governorate_rows(self.db)
                     if wanted in {sort_key(r[f"name_{lang}"]) for lang in LANGS}), None)

    # services ---------------------------------------------------------------------------------------------

    def service(self, rec, where: str) -> str:
        _check_shape("service", rec, where)
        sid = fields.record_id(rec, where)
        names = fields.translated(rec, where, "name", required=True)
        row = {"id": sid, "organization_id": self._organization_of(rec, where),
               **fields.columns("name", names),
               **fields.columns("short_name", short := self._short_name(rec, where)),
               **fields.columns("description", fields.translated(rec, where, "description", required=True)),
               **fields.columns("eligibility",
                                fields.translated(rec, where, "eligibility_description", required=False)),
               "minimum_age": fields.number(rec, where, "minimum_age"),
               "maximum_age": fields.number(rec, where, "maximum_age"),
               "url": fields.clean(rec.get("url"), where, "url"),
               "email": fields.clean(rec.get("email"), where, "email"),
               "status": self._status(rec, where),
               "national": int(fields.flag(rec, where, "national")),
               "sample": int(self.sample or fields.flag(rec, where, "sample")),
               "sort_name": sort_key(names[BASE_LANG])}
        if "ussd_summary" in fields.ext(rec, where):  # absent: the stored summary is kept, as phones and schedules are
            row.update(fields.columns("ussd_summary", self._summary(rec, where, short)))
        self._keep(self.services, row, where)
        self.categories[sid] = self._categories(rec, where)
        self._phones(rec, where, "service_id", sid)
        self._schedules(rec, where, "service_id", sid)
        if "service_at_locations" in rec:
            self.linked.add(sid)  # even an empty list: the service is now offered at no location
        for i, link in enumerate(fields.array(rec.get("service_at_locations"), where, "service_at_locations")):
            self.link({**fields.object(link, where, f"service_at_locations[{i}]"), "service_id": sid},
                      f"{where} > service_at_locations[{i}]")
        return sid

    def _organization_of(self, rec: dict, where: str) -> str:
        if rec.get("organization") is not None:
            nested = rec["organization"]
            return self.organization(nested, f"{where} > {fields.record_name('organization', None, nested)}")
        oid = rec.get("organization_id")
        if not oid:
            fields.fail(where, "organization_id", "missing (or give a nested organization)")
        if not self._known(self.organizations, "organizations", oid):
            fields.fail(where, "organization_id", f"unknown organization {oid!r}")
        return oid

    def _short_name(self, rec: dict, where: str) -> dict:
        field = f"{EXT}.short_name"
        texts = fields.localized(where, field, None, fields.ext(rec, where).get("short_name"), True, None)
        for lang, text in texts.items():
            if len(text) > SHORT_NAME_MAX:
                fields.fail(where, f"{field}.{lang}",
                            f"{len(text)} characters, at most {SHORT_NAME_MAX} fit a USSD list")
        return texts

    def _summary(self, rec: dict, where: str, titles: dict) -> dict | None:
        from flows.screen_text import summary_problem
        field = f"{EXT}.ussd_summary"
        texts = fields.localized(where, field, None, fields.ext(rec, where).get("ussd_summary"), False, None)
        for lang, text in (texts or {}).items():
            problem = summary_problem(titles[lang], text, lang)
            if problem:
                fields.fail(where, f"{field}.{lang}", problem)
        return texts

    def _status(self, rec: dict, where: str) -> str:
        status = rec.get("status", "active")
        if not isinstance(status, str) or status not in STATUS_IN:
            fields.fail(where, "status", f"expected one of {', '.join(STATUS_IN)}, got {status!r}")
        return STATUS_IN[status]

    def _categories(self, rec: dict, where: str) -> list[str]:
        codes = []
        for i, attribute in enumerate(fields.array(rec.get("attributes"), where, "attributes")):
            attribute = fields.object(attribute, where, f"attributes[{i}]")
            term = fields.object(attribute.get("taxonomy_term"), where, f"attributes[{i}].taxonomy_term")
            code = term.get("code") or attribute.get("taxonomy_term_id")
            if not isinstance(code, str) or code not in self.terms:
                fields.fail(where, f"attributes[{i}].taxonomy_term.code",
                      f"unknown taxonomy code {code!r}; known: {', '.join(sorted(self.terms))}")
            if code not in codes:
                codes.append(code)
        if not codes:
            fields.fail(where, "attributes", "at least one taxonomy term (category) is needed to list the service")
        return codes

    # links, phones, schedules -----------------------------------------------------------------------------

    def link(self, rec: dict, where: str) -> None:
        sid = rec.get("service_id")
        if not self._known(self.services, "services", sid):
            fields.fail(where, "service_id", f"unknown service {sid!r}")
        if rec.get("location") is not None:
            nested = rec["location"]
            lid = self.location(nested, f"{where} > {fields.record_name('location', None, nested)}")
        else:
            lid = rec.get("location_id")
            if not self._known(self.locations, "locations", lid):
                fields.fail(where, "location_id", f"unknown location {lid!r}")
        link_id = fields.child_id(rec, where, "id", f"{sid}@{lid}")
        self.links[link_id] = {"id": link_id, "service_id": sid, "location_id": lid}
        self.linked.add(sid)

    def _phones(self, rec: dict, where: str, column: str, owner: str) -> None:
        if "phones" not in rec:
            return  # absent keeps the stored phones; an empty list removes them
        rows = []
        for i, phone in enumerate(fields.array(rec.get("phones"), where, "phones")):
            phone = fields.object(phone, where, f"phones[{i}]")
            number = fields.clean(phone.get("number"), where, f"phones[{i}].number")
            if not number or not fields.PHONE.fullmatch(number):
                fields.fail(where, f"phones[{i}].number", f"expected a phone number, got {phone.get('number')!r}")
            rows.append({"id": fields.child_id(phone, where, f"phones[{i}].id", f"{owner}:phone:{i}"),
                         column: owner, "number": number,
                         "type": fields.clean(phone.get("type"), where, f"phones[{i}].type"), "position": i})
        self.owned["phones"][(column, owner)] = rows

    def _schedules(self, rec: dict, where: str, column: str, owner: str) -> None:
        if "schedules" not in rec:
            return
        rows = []
        for i, schedule in enumerate(fields.array(rec.get("schedules"), where, "schedules")):
            at = f"{where} > schedules[{i}]"
            schedule = fields.object(schedule, where, f"schedules[{i}]")
            row = {"id": fields.child_id(schedule, at, "id", f"{owner}:schedule:{i}"), column: owner, "position": i,
                   **fields.columns("description", fields.translated(schedule, at, "description", required=True))}
            for key in ("freq", "byday", "opens_at", "closes_at"):
                row[key] = fields.clean(schedule.get(key), at, key)
            rows.append(row)
        self.owned["schedules"][(column, owner)] = rows

    def _known(self, batch_rows: dict, table: str, rid) -> bool:
        """Given earlier in this document, or already stored."""
        return isinstance(rid, str) and (rid in batch_rows or store.exists(self.db, table, rid))

    def _keep(self, table: dict, row: dict, where: str) -> None:
        # nested documents repeat an organisation or location for each service: fine if it says the same
        if row["id"] in table and table[row["id"]] != row:
            fields.fail(where, "id", f"{row['id']!r} appears twice with different content")
        table[row["id"]] = row
