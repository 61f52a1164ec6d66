from hypothesis import given, strategies as st

from flows.render import PAGE_BREAK, Budget, option_piece, paginate, text_pieces
from messages.segments import screen_length

USSD = Budget(182, 80)
NAV = [("0", "Back"), ("00", "Main menu")]


def test_a_short_menu_is_one_page_with_its_navigation_on_one_line():
    pages = paginate([option_piece(1, "Jobs"), option_piece(2, "Training")], NAV, "More", USSD, title="Dalil")
    assert [p.text for p in pages] == ["Dalil\n1. Jobs\n2. Training\n0.Back 00.Main menu"]
    assert pages[0].numbers == (1, 2) and not pages[0].more


def test_arabic_uses_the_ucs2_budget_keeps_options_whole_and_repeats_the_title():
    options = [option_piece(n, "برنامج التشغيل في تطاوين") for n in range(1, 7)]
    pages = paginate(options, [("0", "رجوع")], "المزيد", USSD, title="الشغل")
    assert len(pages) > 1
    shown = [n for p in pages for n in p.numbers]
    assert shown == [1, 2, 3, 4, 5, 6]
    for page in pages:
        assert screen_length(page.text) <= ("UCS-2", 80)
        assert page.text.startswith("الشغل\n")
        assert "برنامج التشغيل في تطاوين" in page.text
    assert pages[0].text.endswith("\n98.المزيد 0.رجوع")
    assert not pages[-1].more and pages[-1].text.endswith("\n0.رجوع")


def test_a_wrong_key_shows_the_same_page_with_the_hint_in_the_titles_place():
    options = [option_piece(n, "Bureau emploi Tataouine, centre-ville") for n in range(1, 13)]
    hint = "Choix invalide, tapez un des numeros"
    pages = paginate(options, NAV, "Suite", USSD, title="Emploi", hint=hint)
    assert len(pages) > 1
    for page in pages:
        with_hint = page.show(hint)
        assert with_hint == page.text.replace("Emploi", hint, 1)
        assert USSD.fits(with_hint)


def test_a_page_break_starts_a_page_of_its_own():
    pieces = [*text_pieces("Tel: 70 000 006"), option_piece(1, "SMS"), PAGE_BREAK, *text_pieces("Summary")]
    pages = paginate(pieces, [("0", "Back")], "More", USSD, title="Job office")
    assert [p.text for p in pages] == ["Job office\nTel: 70 000 006\n1. SMS\n98.More 0.Back",
                                       "Job office\nSummary\n0.Back"]


words = st.text(alphabet=st.sampled_from("abcdeéçصبح "), min_size=1, max_size=12).map(str.strip).filter(bool)


@given(st.lists(words, max_size=40), st.lists(words, max_size=12), st.sampled_from(["", "Dalil", "الشغل"]),
       st.sampled_from(["", "Invalid choice.", "خطأ"]))
def test_pages_fit_and_never_cut_a_word_or_an_option_and_hold_each_option_once(body_words, labels, title, hint):
    body = " ".join(body_words)
    pieces = text_pieces(body) + [option_piece(n, label) for n, label in enumerate(labels, start=1)]
    pages = paginate(pieces, NAV, "More", USSD, title=title, hint=hint)
    for page in pages:
        assert USSD.fits(page.text)
        assert USSD.fits(page.show(hint or None))
    joined = " ".join(p.text for p in pages)
    for word in body.split():
        assert word in joined.split()
    for n, label in enumerate(labels, start=1):
        assert sum(f"{n}. {label}" in p.text.split("\n") for p in pages) == 1
    assert [n for p in pages for n in p.numbers] == list(range(1, len(labels) + 1))
    navs = {p.text.rsplit("\n", 1)[-1] for p in pages[:-1]}
    assert len(navs) <= 1  # every page but the last closes with the same navigation line
