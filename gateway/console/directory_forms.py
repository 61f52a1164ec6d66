"""The directory's forms (services, organisations, locations) as WTForms forms, and the HSDS record each gives.

Each check is a validator on its field or, for checks across fields (a text in all three languages or none, the
ages in order, a delegation of the chosen governorate), a line of the form's ``validate``; every error is in
the user's language and belongs to its field. What passes goes through flows.directory, which makes the checks
an HSDS import makes: its refusal names the HSDS field (``DirectoryImportError.field``), and ``form_field``
says which field of the form that is.
"""
from __future__ import annotations

import re

from wtforms import Form, SelectMultipleField, StringField
from wtforms.validators import ValidationError

from flows import directory as dirmod
from flows.directory import fields, store as directory_store
from gateway.console import ui
from messages.i18n import LANGUAGES

EXT = dirmod.EXT
EMAIL_RE = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")
URL_RE = re.compile(r"https?://\S+")
MAX_TEXT = 1000


# -- validators whose messages come from the catalogs when they fail ----------------------------------------

def _strip(value):
    return value.strip() if isinstance(value, str) else value


def _fail(key: str, **values):
    raise ValidationError(ui.t(key, **values))


def at_most(length: int):
    def check(form, field):
        if field.data and len(field.data) > length:
            _fail("console.form.too_long", max=ui.number(length))
    return check


def shaped(pattern: re.Pattern, key: str):
    def check(form, field):
        if field.data and not pattern.fullmatch(field.data):
            _fail(key)
    return check


def whole_number(low: int, high: int):
    def check(form, field):
        if field.data:
            try:
                value = int(field.data)
            except ValueError:
                _fail("console.form.whole_number")
            if not low <= value <= high:
                _fail("console.form.between", low=ui.number(low), high=ui.number(high))
    return check


def decimal(low: float, high: float):
    def check(form, field):
        if field.data:
            try:
                value = float(field.data.replace(",", "."))
            except ValueError:
                _fail("console.form.number")
            if not low <= value <= high:
                _fail("console.form.between", low=ui.number(low), high=ui.number(high))
    return check


def text(*validators, max_len: int = MAX_TEXT) -> StringField:
    return StringField(filters=[_strip], validators=[at_most(max_len), *validators])


def entry(*validators) -> StringField:
    """A number typed in a text box: no length limit of its own, its validator says what is wrong."""
    return StringField(filters=[_strip], validators=list(validators))


def with_texts(form: type, **prefixes: int) -> type:
    """Add a text field per language for each prefix (name -> name_ar, name_fr, name_en), of that length."""
    for prefix, max_len in prefixes.items():
        for lang in LANGUAGES:
            setattr(form, f"{prefix}_{lang}", text(max_len=max_len))
    return form


# -- the forms ----------------------------------------------------------------------------------------------

class RecordForm(Form):
    """A directory record: an id (typed only when creating), texts in three languages, a phone number."""
    TABLE = ""
    REQUIRED: tuple[str, ...] = ()  # texts needed in all three languages
    OPTIONAL: tuple[str, ...] = ()  # texts given in all three languages or in none

    id = StringField(filters=[_strip])
    phone = text(shaped(fields.PHONE, "console.form.phone"), max_len=300)

    def __init__(self, formdata, original: dict | None, db):
        super().__init__(formdata)
        self.original, self.db = original, db

    def validate_id(self, field):
        if self.original:
            return
        if not field.data:
            _fail("console.form.required")
        if not fields.RECORD_ID.fullmatch(field.data):
            _fail("console.directory.id_format")
        if directory_store.exists(self.db, self.TABLE, field.data):
            _fail("console.directory.id_taken")

    def validate(self, extra_validators=None) -> bool:
        super().validate(extra_validators)
        for prefix in self.REQUIRED + self.OPTIONAL:
            self._one_text(prefix, required=prefix in self.REQUIRED)
        self.check_across()
        return not self.errors

    def check_across(self) -> None:
        """Checks that need more than one field."""

    def error(self, name: str, key: str, **values) -> None:
        self[name].errors = [*self[name].errors, ui.t(key, **values)]

    def _one_text(self, prefix: str, required: bool) -> None:
        given = {lang: self[f"{prefix}_{lang}"].data for lang in LANGUAGES}
        if not any(given.values()):
            for lang in LANGUAGES:
                if required:
                    self.error(f"{prefix}_{lang}", "console.form.required")
            return
        for lang in LANGUAGES:
            if not given[lang]:
                self.error(f"{prefix}_{lang}", "console.form.all_languages")

    def texts(self, prefix: str) -> dict | None:
        given = {lang: self[f"{prefix}_{lang}"].data or None for lang in LANGUAGES}
        return given if any(given.values()) else None

    def value(self, name: str):
        return self[name].data or None

    def record_id(self) -> str:
        return self.original["id"] if self.original else self.id.data

    def phones(self) -> list[dict]:
        """The form edits the first phone; any others the record had are kept."""
        rest = (self.original or {}).get("phones", [])[1:]
        return ([{"number": self.phone.data, "type": "voice"}] if self.phone.data else []) + rest

    def sample(self) -> bool:
        return bool((self.original or {}).get(EXT, {}).get("sample"))

    def field_errors(self) -> ui.Errors:
        errors = ui.Errors()
        for name, messages in self.errors.items():
            if name and messages:
                errors.add_text(name, messages[0])
        return errors


class ServiceForm(RecordForm):
    TABLE = "services"
    REQUIRED = ("name", "short", "description")
    OPTIONAL = ("summary", "eligibility")  # a summary's fit on one screen: the importer's check
    organization_id = StringField()
    categories = SelectMultipleField(validate_choice=False)
    locations = SelectMultipleField(validate_choice=False)
    status = StringField(default="active")
    national = StringField()
    url = text(shaped(URL_RE, "console.form.url"), max_len=300)
    email = text(shaped(EMAIL_RE, "console.form.email"), max_len=300)
    minimum_age = entry(whole_number(0, 120))
    maximum_age = entry(whole_number(0, 120))

    def __init__(self, formdata, original, db, choices: dict):
        super().__init__(formdata, original, db)
        self.choices = choices

    def validate_organization_id(self, field):
        if field.data not in {o for o, _ in self.choices["organizations"]}:
            _fail("console.form.choose")

    def validate_status(self, field):
        if field.data not in ("active", "inactive"):
            _fail("console.form.choose")

    def known(self, name: str) -> list[str]:
        allowed = {row[0] for row in self.choices["taxonomy" if name == "categories" else "locations"]}
        return [v for v in self[name].data or [] if v in allowed]

    def check_across(self) -> None:
        if not self.known("categories"):
            self.error("categories", "console.directory.categories_needed")
        low, high = self.minimum_age, self.maximum_age
        if not low.errors and not high.errors and low.data and high.data and int(low.data) > int(high.data):
            self.error("maximum_age", "console.directory.age_order")

    def record(self) -> dict:
        sid = self.record_id()
        links = directory_store.location_links(self.db, sid) if self.original else {}
        translations: dict = {}
        record = {"id": sid, "organization_id": self.organization_id.data, "status": self.status.data}
        put_texts(record, translations, "name", self.texts("name"))
        put_texts(record, translations, "description", self.texts("description"))
        put_texts(record, translations, "eligibility_description", self.texts("eligibility"))
        ages = [int(a.data) if a.data else None for a in (self.minimum_age, self.maximum_age)]
        record.update({"url": self.value("url"), "email": self.value("email"), "minimum_age": ages[0],
                       "maximum_age": ages[1], "phones": self.phones(),
                       "attributes": [{"taxonomy_term_id": c} for c in self.known("categories")],
                       "service_at_locations": [{"id": links.get(loc, f"{sid}@{loc}"), "location_id": loc}
                                                for loc in self.known("locations")]})
        record[EXT] = {"translations": translations, "short_name": self.texts("short"),
                       "ussd_summary": self.texts("summary") or {}, "national": self.national.data == "on",
                       "sample": self.sample()}
        return record


class OrganizationForm(RecordForm):
    TABLE = "organizations"
    REQUIRED = ("name",)
    OPTIONAL = ("description",)
    website = text(shaped(URL_RE, "console.form.url"), max_len=300)
    email = text(shaped(EMAIL_RE, "console.form.email"), max_len=300)

    def record(self) -> dict:
        translations: dict = {}
        record = {"id": self.record_id()}
        put_texts(record, translations, "name", self.texts("name"))
        put_texts(record, translations, "description", self.texts("description"))
        record.update(website=self.value("website"), email=self.value("email"), phones=self.phones())
        record[EXT] = {"translations": translations, "sample": self.sample()}
        return record


class LocationForm(RecordForm):
    TABLE = "locations"
    REQUIRED = ("name",)
    OPTIONAL = ("address",)
    governorate = StringField()
    delegation = StringField()
    latitude = entry(decimal(-90, 90))
    longitude = entry(decimal(-180, 180))

    def __init__(self, formdata, original, db, choices: dict):
        super().__init__(formdata, original, db)
        self.choices = choices

    def validate_governorate(self, field):
        if field.data not in dict(self.choices["governorates"]):
            _fail("console.form.choose")

    def validate_delegation(self, field):
        if field.data and field.data not in dict(self.choices["delegations"].get(self.governorate.data, [])):
            _fail("console.directory.delegation_mismatch")

    def record(self) -> dict:
        translations: dict = {}
        record = {"id": self.record_id()}
        put_texts(record, translations, "name", self.texts("name"))
        address = self.texts("address")
        if address:
            record["addresses"] = [{"address_1": address["fr"], "country": "TN"}]
            translations["address"] = {"ar": address["ar"], "en": address["en"]}
        coordinates = [float(c.data.replace(",", ".")) if c.data else None for c in (self.latitude, self.longitude)]
        record.update(latitude=coordinates[0], longitude=coordinates[1], phones=self.phones())
        record[EXT] = {"translations": translations, "governorate": self.governorate.data,
                       "delegation": self.delegation.data or None, "sample": self.sample()}
        return record


with_texts(ServiceForm, name=200, short=dirmod.SHORT_NAME_MAX, summary=MAX_TEXT, description=MAX_TEXT,
           eligibility=MAX_TEXT)
with_texts(OrganizationForm, name=200, description=MAX_TEXT)
with_texts(LocationForm, name=200, address=300)


def put_texts(record: dict, translations: dict, field: str, texts: dict | None) -> None:
    """HSDS keeps French in the standard field and the others in x-dalil.translations."""
    if texts:
        record[field] = texts["fr"]
        translations[field] = {"ar": texts["ar"], "en": texts["en"]}


# -- an importer's refusal, back to the form ----------------------------------------------------------------

# HSDS field -> the form's fields for it (a text: <prefix>_<lang>)
TEXT_FIELDS = {"name": "name", "description": "description", "eligibility_description": "eligibility",
               "address": "address", "addresses[0].address_1": "address", f"{EXT}.short_name": "short",
               f"{EXT}.ussd_summary": "summary"}
PLAIN_FIELDS = {"id", "organization_id", "url", "email", "website", "minimum_age", "maximum_age"}


def form_field(path: str | None) -> str:
    """The form field an HSDS field path of a DirectoryImportError stands for ("form" when none does)."""
    path = path or ""
    text, _, lang = path.rpartition(".")
    if text.startswith(f"{EXT}.translations."):
        text = text[len(f"{EXT}.translations."):]
    if lang in LANGUAGES and text in TEXT_FIELDS:
        return f"{TEXT_FIELDS[text]}_{lang}"
    if path in TEXT_FIELDS:
        return f"{TEXT_FIELDS[path]}_fr"  # the HSDS field itself holds French
    if path.startswith("phones["):
        return "phone"
    if path.startswith("attributes"):
        return "categories"
    if path in (f"{EXT}.governorate", f"{EXT}.delegation"):
        return path[len(EXT) + 1:]
    return path if path in PLAIN_FIELDS else "form"
