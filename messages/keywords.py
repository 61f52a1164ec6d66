"""SMS keywords of the subscription line: JOIN (with optional topics and governorate), STOP, START, HELP.

The words are in the campaigns catalogs (``sub.kw.*``) in each language, plus the words Twilio reserves
(STOP, STOPALL, UNSUBSCRIBE, CANCEL, END, QUIT; START, YES, UNSTOP; HELP, INFO), which count whatever the
language. Matching folds case, accents, Arabic marks and punctuation, and takes the whole message: STOP, START
and HELP must be the message on their own, and JOIN may only be followed by topic and governorate words. So a
free-text answer that merely begins with "End ..." (a note to a caseworker) is never taken as an opt-out, and
anything that is not a keyword returns None for the menu conversation to handle. The referral erasure words
(referrals/keywords.py) are not used here.
"""
from __future__ import annotations

import re
import unicodedata

from flows.directory import store as areas
from gateway import contacts
from messages import i18n, subscribers

TWILIO_RESERVED = {
    "stop": ("STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT"),
    "start": ("START", "YES", "UNSTOP"),
    "help": ("HELP", "INFO"),
}
ONLY_FOR_OPTED_OUT = {"yes"}  # "yes" is an ordinary word: it only means START to someone who said STOP
TOPIC_KINDS = ("all",) + subscribers.INTERESTS

_ARABIC_MARKS = re.compile(r"[\u064B-\u065F\u0670\u0640]")  # harakat and tatweel: "اشتركْ" is "اشترك"


def fold(text: str) -> str:
    text = _ARABIC_MARKS.sub("", unicodedata.normalize("NFKC", text or ""))
    text = "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))
    return re.sub(r"[\s\W_]+", " ", text).strip().casefold()


def vocabulary(kind: str) -> dict[str, set[str]]:
    """Folded word -> the languages it belongs to; Twilio's words belong to every language (no hint)."""
    out: dict[str, set[str]] = {}
    for lang in i18n.LANGUAGES:
        for word in i18n.t(lang, f"sub.kw.{kind}").split(","):
            if fold(word):
                out.setdefault(fold(word), set()).add(lang)
    for word in TWILIO_RESERVED.get(kind, ()):
        out[fold(word)] = set(i18n.LANGUAGES)
    return out


def handle(ctx, db, sms) -> list[str] | None:
    said = fold(sms.text)
    if not said:
        return None
    for kind, action in (("stop", _stop), ("start", _start), ("help", _help)):
        langs = vocabulary(kind).get(said)
        if langs:
            return action(ctx, db, sms, said, langs)
    first, _, rest = said.partition(" ")
    langs = vocabulary("join").get(first)
    if langs:
        return _join(ctx, db, sms, first, rest, langs)
    return None


# -- the four keywords ---------------------------------------------------------------------------------------

def _stop(ctx, db, sms, word: str, langs: set[str]) -> list[str]:
    key = _key(ctx, sms.phone)
    lang = _reply_language(ctx, db, sms.phone, key, langs)
    subscribers.opt_out(db, sms.phone, channel="sms", via=_via(word, sms), contact_key=key)
    return [_t(ctx, lang, "sub.stop.done")]


def _start(ctx, db, sms, word: str, langs: set[str]) -> list[str] | None:
    key = _key(ctx, sms.phone)
    known = subscribers.get(db, sms.phone)
    if word in ONLY_FOR_OPTED_OUT and not (known and known["status"] == "opted_out"):
        return None
    lang = _reply_language(ctx, db, sms.phone, key, langs)
    outcome = subscribers.opt_in_again(db, sms.phone, channel="sms", via=_via(word, sms), contact_key=key)
    if outcome == "unknown":  # never subscribed: START is a JOIN to everything
        return _join(ctx, db, sms, word, "", {lang})
    return [_t(ctx, lang, "sub.start.done" if outcome == "resumed" else "sub.start.already")]


def _help(ctx, db, sms, word: str, langs: set[str]) -> list[str]:
    lang = _reply_language(ctx, db, sms.phone, _key(ctx, sms.phone), langs)
    return [_t(ctx, lang, "sub.help", menu=i18n.t(lang, "kw.menu"))]


def _join(ctx, db, sms, word: str, rest: str, langs: set[str]) -> list[str]:
    key = _key(ctx, sms.phone)
    lang = next(iter(langs)) if len(langs) == 1 else _reply_language(ctx, db, sms.phone, key, langs)
    parsed = parse_join_words(db, rest)
    if parsed is None:
        return [i18n.t(lang, "sub.join.usage")]
    interests, governorate = parsed
    governorate = governorate or contacts.get(db, key)["governorate"] or None
    subscribers.subscribe(db, sms.phone, language=lang, governorate=governorate, interests=interests or "all",
                          channel="sms", via=_via(word, sms), contact_key=key)
    chosen = subscribers.get(db, sms.phone)
    return [i18n.t(lang, "sub.join.done", topics=_topics(lang, chosen["interests"]),
                   area=_area(db, chosen["governorate"], lang))]


# -- helpers -------------------------------------------------------------------------------------------------

def parse_join_words(db, rest: str) -> tuple[set[str], str | None] | None:
    """Topics and a governorate from the words after JOIN; None if any word is neither."""
    topics = {word: kind for kind in TOPIC_KINDS for word in vocabulary(kind)}
    areas = _governorate_names(db)
    words, interests, governorate = rest.split(), set(), None
    i = 0
    while i < len(words):
        for size in (3, 2, 1):  # "sidi bouzid", "ben arous": longest name first
            phrase = " ".join(words[i:i + size])
            if size <= len(words) - i and (phrase in areas or phrase in topics):
                if phrase in areas:
                    governorate = areas[phrase]
                else:
                    interests |= set(subscribers.INTERESTS) if topics[phrase] == "all" else {topics[phrase]}
                i += size
                break
        else:
            return None
    return interests, governorate


def _governorate_names(db) -> dict[str, str]:
    names = {}
    for row in areas.governorate_rows(db):
        code, localized = row["code"], [row["name_ar"], row["name_fr"], row["name_en"]]
        for name in [code.replace("_", " "), *filter(None, localized)]:
            folded = fold(name)
            names[folded] = code
            if folded.startswith("ال"):
                names[folded[2:]] = code  # "قيروان" as well as "القيروان"
    return names


def _topics(lang: str, interests: set[str]) -> str:
    if set(subscribers.INTERESTS) <= interests:
        return i18n.t(lang, "sub.all")
    sep = "، " if lang == "ar" else ", "
    return sep.join(i18n.t(lang, f"sub.{name}") for name in subscribers.INTERESTS if name in interests)


def _area(db, code: str | None, lang: str) -> str:
    if not code:
        return ""
    row = areas.area_row(db, code)
    name = row and row[f"name_{lang}"]
    return f"{'، ' if lang == 'ar' else ', '}{name}" if name else ""


def _key(ctx, phone: str) -> str:
    return contacts.contact_key(ctx.secret("contacts"), phone)


def _reply_language(ctx, db, phone: str, key: str, langs: set[str]) -> str:
    """A word of one language answers in it; a shared word (STOP) in the language we know for the number."""
    if len(langs) == 1:
        return next(iter(langs))
    known = subscribers.get(db, phone)
    lang = (known and known["language"]) or contacts.get(db, key)["language"]
    return lang or ctx.config["gateway"]["default_language"]


def _via(word: str, sms) -> str:
    return f"keyword:{word.upper()}@{sms.channel}"


def _t(ctx, lang: str, key: str, **values) -> str:
    return i18n.t(lang, key, sender=ctx.config["campaigns"]["sender_name"], **values)
