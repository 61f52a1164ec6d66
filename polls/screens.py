"""What a respondent reads and types: the list of open polls, each question's screen, and matching a reply.

A question's screen is one USSD screen with no navigation lines (`nav = false` in flows/definitions/polls.toml):
the question, then its numbered options (or the range of a number). `problems` renders every screen of a poll
in every language, the re-ask screen too, and names the text and language of any that do not fit.
"""
from __future__ import annotations

from flows.render import Budget
from messages import i18n
from messages.i18n import LANGUAGES
from messages.keywords import fold, vocabulary
from polls.model import MAX_OPTIONS, MAX_TITLE, MIN_OPTIONS, Poll, Question

ARABIC_DIGITS = str.maketrans("٠١٢٣٤٥٦٧٨٩۰۱۲۳۴۵۶۷۸۹", "01234567890123456789")
USSD_BUDGET = Budget(182, 80)
RESERVED_KINDS = ("stop", "start", "help", "join")


def question_screen(poll: Poll, index: int, lang: str, again: bool = False) -> str:
    question = poll.questions[index]
    lines = [i18n.t(lang, "poll.again")] if again else []
    lines.append(i18n.t(lang, "poll.question", n=index + 1, of=len(poll.questions), text=question.text[lang]))
    if question.type == "number":
        lines.append(i18n.t(lang, "poll.number", min=question.min, max=question.max))
    else:
        lines += [f"{n}. {label}" for n, label in enumerate(question.labels(lang), start=1)]
    return "\n".join(lines)


def list_screen(polls: list[Poll], lang: str) -> str:
    return "\n".join([i18n.t(lang, "poll.list.title")] +
                     [f"{n}. {p.title[lang]}" for n, p in enumerate(polls, start=1)])


def match(question: Question, lang: str, reply: str) -> int | None:
    """The answer a reply means: an option number (1-based) or the number given; None when it means nothing.

    An option is also taken by its words, in the caller's language first, folded like keywords ("oui", "OUI",
    "Oui!" are one), and Arabic-Indic digits are digits.
    """
    text = (reply or "").strip().translate(ARABIC_DIGITS)
    if text.isascii() and text.isdigit() and len(text) <= 6:
        value = int(text)
        if question.type == "number":
            return value if question.min <= value <= question.max else None
        return value if 1 <= value <= len(question.options) else None
    if question.type == "number":
        return None
    said = fold(text)
    for language in (lang, *[lg for lg in LANGUAGES if lg != lang]):
        for n, label in enumerate(question.labels(language), start=1):
            if said and said == fold(label):
                return n
    return None


def problems(poll: Poll, budget: Budget = USSD_BUDGET) -> list[str]:
    """Everything that keeps a poll from opening, as sentences naming the question, text and language."""
    out = []
    for lang in LANGUAGES:
        if not poll.title.get(lang):
            out.append(f"title: missing in {lang}")
        elif len(poll.title[lang]) > MAX_TITLE:
            out.append(f"title [{lang}]: {len(poll.title[lang])} characters, at most {MAX_TITLE} (a line of the "
                       f"list of polls)")
    for n, question in enumerate(poll.questions, start=1):
        out += [f"question {n} text: missing in {lang}" for lang in LANGUAGES if not question.text.get(lang)]
        if question.type == "choice":
            out += _choice_problems(question, n)
    if any(fold(poll.keyword) in vocabulary(kind) for kind in RESERVED_KINDS) or \
            any(fold(poll.keyword) == fold(i18n.t(lang, "kw.menu")) for lang in LANGUAGES):
        out.append(f"keyword: {poll.keyword} is already a word of the SMS line (STOP, JOIN, MENU, ...)")
    if out:
        return out  # the screens are measured once every text is there
    for n in range(len(poll.questions)):
        for lang in LANGUAGES:
            for again in (False, True):
                screen = question_screen(poll, n, lang, again)
                if not budget.fits(screen):
                    out.append(f"question {n + 1} [{lang}]: the {'re-ask ' if again else ''}screen does not fit "
                               f"one USSD screen ({_measure(screen)}): shorten the question or its options")
    for lang in LANGUAGES:
        if not budget.fits(list_screen([poll], lang)):
            out.append(f"title [{lang}]: the list of polls does not fit one USSD screen")
    return out


def _choice_problems(question: Question, n: int) -> list[str]:
    out = []
    if not MIN_OPTIONS <= len(question.options) <= MAX_OPTIONS:
        out.append(f"question {n}: {len(question.options)} options, expected {MIN_OPTIONS} to {MAX_OPTIONS}")
    for lang in LANGUAGES:
        labels = question.labels(lang)
        for k, label in enumerate(labels, start=1):
            if not label:
                out.append(f"question {n} option {k}: missing in {lang}")
        folded = [fold(label) for label in labels if label]
        if len(set(folded)) != len(folded):
            out.append(f"question {n} [{lang}]: two options read the same, a reply by word would be ambiguous")
    return out


def _measure(text: str) -> str:
    from messages.segments import screen_length
    encoding, units = screen_length(text)
    return f"{units} {encoding} characters"
