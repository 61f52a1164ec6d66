"""One voice per language: every catalog uses the glossary's words for the key terms, Arabic in one register,
French in one typographic convention (messages/glossary/<lang>.toml)."""
from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest
from babel.messages.pofile import read_po

from messages import i18n

GLOSSARY = Path(i18n.__file__).parent / "glossary"
PHONE_DOMAINS = ("flows", "referrals", "campaigns")  # what callers read on a screen or in an SMS


def glossary(lang: str) -> dict:
    return tomllib.loads((GLOSSARY / f"{lang}.toml").read_text(encoding="utf-8"))


def texts(lang: str, domains=None) -> dict[str, str]:
    """msgid -> text, keyword lists left out: they list what callers may type, Derja and misspellings included."""
    found = {}
    for po in sorted((i18n.LOCALE_DIR / lang / "LC_MESSAGES").glob("*.po")):
        if domains and po.stem not in domains:
            continue
        with po.open("rb") as f:
            for message in read_po(f):
                if message.id and not message.id.endswith(".keywords") and \
                        not message.id.startswith(("kw.", "sub.kw.")):
                    found[f"{po.stem}:{message.id}"] = message.string
    return found


def word(term: str) -> re.Pattern:
    return re.compile(r"(?<!\w)" + re.escape(term) + r"(?!\w)", re.IGNORECASE)


@pytest.mark.parametrize("lang", ["ar", "fr", "en"])
def test_every_catalog_uses_the_glossary_terms(lang):
    g = glossary(lang)
    avoid = list(g.get("register", {}).get("avoid", []))
    for term in g["terms"].values():
        avoid += term.get("avoid", [])
    everything = texts(lang)
    found = {f"{key}: {bad!r}" for key, text in everything.items() for bad in avoid if word(bad).search(text)}
    assert found == set()
    keys = {key.split(":", 1)[1]: text for key, text in everything.items()}
    for name, term in g["terms"].items():
        for key in term.get("keys", []):
            assert keys[key] == term["use"], (name, key)


def test_prefer_not_to_say_is_one_phrase_in_each_language():
    for lang in i18n.LANGUAGES:
        assert i18n.t(lang, "areas.skip") == i18n.t(lang, "help.skip") == glossary(lang)["terms"][
            "prefer_not_to_say"]["use"]


def test_french_has_one_typographic_convention():
    """A space before ? ! : ; (ordinary: a no-break space would make the SMS UCS-2), straight apostrophes;
    guillemets only on web pages (the console, the CSO desk), never on a phone."""
    double = re.compile(r"(?<=[^\s\d{}])[?!;]|(?<=[^\s\d])(?<!https)(?<!http):(?!//)")
    found = {key: text for key, text in texts("fr").items() if double.search(text) or re.search(r"[’\u202f]", text)}
    assert found == {}
    on_phone = {key: text for key, text in texts("fr", PHONE_DOMAINS).items()
                if re.search(r"[«»\u00a0]", text) and ":desk." not in key}  # the CSO desk is a web page
    assert on_phone == {}


def test_no_arabic_text_for_callers_is_in_tunisian_derja():
    derja = glossary("ar")["register"]["avoid"]
    found = {key: bad for key, text in texts("ar", PHONE_DOMAINS).items() for bad in derja if word(bad).search(text)}
    assert found == {}
