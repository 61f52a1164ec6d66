"""The programme/service directory: organisations, services, locations, shaped after Open Referral HSDS 3.0.

One job per module: ``menus`` (the reads menus make on every USSD hop: ``governorates``, ``delegations``,
``list_services``, ``service``; texts as ``{"ar": ..., "fr": ..., "en": ...}``), ``importing`` (a document, all
or nothing, and the console's one-record edits), ``schema`` (the record's shape: the vendored HSDS 3.0 schemas
and Dalil's ``x-dalil`` extension, with jsonschema), ``fields`` and ``batch`` (what Dalil needs of each record,
turned into rows), ``export``, and ``store`` (all of the directory's SQL). This module names what other packages
use.

HSDS documents
--------------
``import_hsds`` accepts two shapes and ``export_hsds`` writes the second:

1. a list of HSDS service objects, each with its ``organization`` (or ``organization_id``) and its
   ``service_at_locations`` nested, each of those with its ``location`` (or ``location_id``);
2. an object with the arrays ``organizations``, ``services``, ``locations`` and ``service_at_locations``
   (items of the last are ``{"id", "service_id", "location_id"}``). Nesting as in 1 is also allowed here.
   A top-level ``"sample": true`` marks every record of the document as sample data.

Standard HSDS fields used: organization ``id, name, description, website, email, phones``; service ``id,
organization_id, name, description, status, eligibility_description, minimum_age, maximum_age, url, email,
phones, schedules, attributes`` (each attribute's ``taxonomy_term.code``, or ``taxonomy_term_id``, is one of
the Dalil codes in flows/store.py TAXONOMY); location ``id, name, latitude, longitude, addresses[0].address_1,
phones, schedules``; schedule ``id, description, freq, byday, opens_at, closes_at``; phone ``id, number, type``.
Other HSDS fields are not stored, but every field must have the type and value HSDS 3.0 gives it
(``schemas/hsds-3.0``, checked with jsonschema; HSDS's ``required`` lists are left to Dalil, and a ``null`` is an
absent field). Status ``active`` is kept; ``inactive``, ``defunct`` and ``temporarily closed``
become retired (exported as ``inactive``).

HSDS has one language per record, so Dalil adds an extension object ``"x-dalil"`` to each record (its schema:
``schemas/x-dalil.json``):

- the standard text fields (``name``, ``description``, ``eligibility_description``, ``address_1``) hold the
  **French** text, so tools that ignore the extension still read a sensible directory;
- ``x-dalil.translations.<field>`` holds ``{"ar": ..., "en": ...}`` (a ``"fr"`` there must match the field);
  a location's address translations are under ``translations.address``;
- a service's ``x-dalil.short_name`` is ``{"ar", "fr", "en"}``, at most 24 characters each: its title in USSD
  lists and on the first screen of its detail (name and phone number), so a list and a detail never disagree;
- a service's ``x-dalil.ussd_summary`` is ``{"ar", "fr", "en"}`` (optional): what the detail's second screen
  shows, checked on import to fit one USSD screen under the title with its navigation (``flows.screen_text``);
  the full description, eligibility, hours and address go by SMS;
  ``x-dalil.national: true`` lists a service in every governorate (a service with no location is national);
- a location's ``x-dalil.governorate`` and ``x-dalil.delegation`` are area codes (``tataouine``,
  ``ben_guerdane``); without them the governorate is matched from ``addresses[0].state_province``;
- ``x-dalil.sample: true`` marks sample data.

Every text present must exist in all three languages. A bad document imports nothing: it raises
``DirectoryImportError`` naming the record (``services[3] (id "...")``) and the field. Importing the same ids
again updates them (upsert). A record's ``phones``, ``schedules`` and categories, and a service's locations
(its ``service_at_locations``, nested or top-level), are replaced when the document gives them, an empty
array clearing them; when the key is absent the stored ones are kept, so a console can edit a service's texts
without restating where it is offered.
"""
from __future__ import annotations

from flows.directory.batch import SHORT_NAME_MAX
from flows.directory.export import export_hsds, list_all
from flows.directory.fields import EXT, LANGS, DirectoryImportError
from flows.directory.importing import (DEMO_PACK, KINDS, import_hsds, load_demo, retire_service, upsert_location,
                                       upsert_organization, upsert_service)
from flows.directory.menus import (area_name, count_services, delegations, governorates, list_services, service,
                                   taxonomy)

__all__ = ["DEMO_PACK", "EXT", "KINDS", "LANGS", "SHORT_NAME_MAX", "DirectoryImportError", "area_name",
           "count_services", "delegations", "export_hsds", "governorates", "import_hsds", "list_all", "list_services",
           "load_demo", "retire_service", "service", "taxonomy", "upsert_location", "upsert_organization",
           "upsert_service"]
