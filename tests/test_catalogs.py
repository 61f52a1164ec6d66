"""Everything a person reads exists in ar, fr and en, with the same {placeholders} in each.

Texts that count something come in plural forms, KEY.zero ... KEY.other (KEY.one and KEY.other in English),
chosen by babel's CLDR rules (messages.i18n.plural): each language has exactly the forms its rules use (Arabic
six, French three, English two), and a form may leave out {n} where the word says the number ("تنبيهان", two
alerts)."""
import string

from babel import Locale

from messages import i18n

FORMS = ("zero", "one", "two", "few", "many", "other")


def placeholders(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


def plural_base(key: str) -> str | None:
    base, _, form = key.rpartition(".")
    english = i18n.catalogs()["en"]
    return base if form in FORMS and f"{base}.one" in english and f"{base}.other" in english else None


def test_every_text_exists_in_all_three_languages():
    catalogs = i18n.catalogs()
    keys = {key for key in set().union(*catalogs.values()) if plural_base(key) is None}
    missing = {key: [lang for lang in i18n.LANGUAGES if not catalogs[lang].get(key, "").strip()] for key in keys}
    assert {k: v for k, v in missing.items() if v} == {}


def test_every_plural_text_has_the_forms_each_language_uses_and_no_other():
    catalogs = i18n.catalogs()
    bases = {plural_base(key) for key in set().union(*catalogs.values())} - {None}
    assert bases, "no plural texts found"
    wrong = {}
    for base in bases:
        for lang in i18n.LANGUAGES:
            used = set(Locale.parse(i18n.BABEL_LOCALES[lang]).plural_form.tags) | {"other"}
            present = {f for f in FORMS if catalogs[lang].get(f"{base}.{f}", "").strip()}
            if present != used:
                wrong[f"{lang}:{base}"] = (sorted(present), sorted(used))
    assert wrong == {}
    assert Locale.parse("ar_TN").plural_form.tags | {"other"} == set(FORMS)  # Arabic's six


def test_placeholders_agree_across_languages():
    catalogs = i18n.catalogs()
    disagree = {}
    for key, english in catalogs["en"].items():
        base = plural_base(key)
        if base is not None:
            continue
        expected = placeholders(english)
        for lang in ("ar", "fr"):
            if placeholders(catalogs[lang][key]) != expected:
                disagree[f"{lang}:{key}"] = (sorted(placeholders(catalogs[lang][key])), sorted(expected))
    for lang in i18n.LANGUAGES:
        for key, text in catalogs[lang].items():
            base = plural_base(key)
            if base is not None and not placeholders(text) <= placeholders(catalogs["en"][f"{base}.other"]):
                disagree[f"{lang}:{key}"] = (sorted(placeholders(text)), "more than en .other")
    assert disagree == {}


def test_counted_texts_use_each_languages_plural_form():
    shown = {n: i18n.plural("ar", "console.count.segments", n) for n in (0, 1, 2, 3, 11, 100)}
    assert shown == {0: "لا أجزاء", 1: "جزء واحد", 2: "جزآن", 3: "3 أجزاء", 11: "11 جزءًا", 100: "100 جزء"}
    assert [i18n.plural("fr", "console.count.segments", n) for n in (0, 1, 2)] == \
        ["0 segment", "1 segment", "2 segments"]  # French counts zero as one
    assert [i18n.plural("en", "console.count.segments", n) for n in (0, 1, 2)] == \
        ["0 segments", "1 segment", "2 segments"]
    assert i18n.plural("en", "console.campaigns.fallback_count", 1, lang="Français", used="العربية") == \
        "1 subscriber in Français gets the العربية text (no text in their language)."
