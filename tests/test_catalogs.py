"""Everything a person reads exists in ar, fr and en, with the same {placeholders} in each."""
import string

from messages import i18n


def placeholders(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


def test_every_text_exists_in_all_three_languages():
    catalogs = i18n.catalogs()
    keys = set().union(*catalogs.values())
    missing = {key: [lang for lang in i18n.LANGUAGES if not catalogs[lang].get(key, "").strip()] for key in keys}
    assert {k: v for k, v in missing.items() if v} == {}


def test_placeholders_agree_across_languages():
    catalogs = i18n.catalogs()
    disagree = {}
    for key, english in catalogs["en"].items():
        expected = placeholders(english)
        for lang in ("ar", "fr"):
            if placeholders(catalogs[lang][key]) != expected:
                disagree[f"{lang}:{key}"] = (sorted(placeholders(catalogs[lang][key])), sorted(expected))
    assert disagree == {}
