from hypothesis import given, strategies as st

from flows.render import Budget, option_piece, paginate, text_pieces
from messages.segments import screen_length

USSD = Budget(182, 80)
NAV = ["0. Back", "00. Main menu"]


def test_a_short_menu_is_one_page_with_its_navigation():
    pages = paginate(text_pieces("Dalil") + [option_piece(1, "Jobs"), option_piece(2, "Training")], NAV, "More", USSD)
    assert [p.text for p in pages] == ["Dalil\n1. Jobs\n2. Training\n0. Back\n00. Main menu"]
    assert pages[0].numbers == (1, 2) and not pages[0].more


def test_arabic_uses_the_ucs2_budget_and_keeps_options_whole():
    options = [option_piece(n, "برنامج التشغيل في تطاوين") for n in range(1, 7)]
    pages = paginate(text_pieces("الشغل") + options, ["0. رجوع"], "المزيد", USSD)
    assert len(pages) > 1
    shown = [n for p in pages for n in p.numbers]
    assert shown == [1, 2, 3, 4, 5, 6]
    for page in pages:
        assert screen_length(page.text) <= ("UCS-2", 80)
        assert "برنامج التشغيل في تطاوين" in page.text
    assert pages[0].text.endswith("98. المزيد\n0. رجوع")
    assert not pages[-1].more


words = st.text(alphabet=st.sampled_from("abcdeéçصبح "), min_size=1, max_size=12).map(str.strip).filter(bool)


@given(st.lists(words, max_size=40), st.lists(words, max_size=12))
def test_pages_fit_and_never_cut_a_word_or_an_option(body_words, labels):
    body = " ".join(body_words)
    pieces = text_pieces(body) + [option_piece(n, label) for n, label in enumerate(labels, start=1)]
    pages = paginate(pieces, NAV, "More", USSD)
    for page in pages:
        assert USSD.fits(page.text)
    joined = " ".join(p.text for p in pages)
    for word in body.split():
        assert word in joined.split()
    for n, label in enumerate(labels, start=1):
        assert any(f"{n}. {label}" in p.text for p in pages)
    assert [n for p in pages for n in p.numbers] == list(range(1, len(labels) + 1))
