"""The console's poll pages through the real app: who may do what, the draft's form round trip, a refusal to open
that names the text and the language, and the results page's numbers."""
from __future__ import annotations

import html
import re

from messages import i18n
from polls import answers, lifecycle
from test_console_support import add_accounts, post, signed_in
from test_polls_e2e import definition

LONG = "هل يصلكم الماء في الحنفية كل يوم في حيكم وفي منازلكم وفي مدارسكم؟"  # too long for an Arabic screen


def test_staff_edit_a_draft_see_why_it_cannot_open_and_the_municipality_only_reads(demo_app):
    add_accounts(demo_app)
    ctx = demo_app.extensions["dalil"]
    db = ctx.db()
    raw = definition(lifecycle.today(ctx))
    raw["questions"][0]["text"]["ar"] = LONG
    poll_id, problems = lifecycle.create(ctx, db, raw)
    assert problems and problems[0].startswith("question 1 [ar]: the screen does not fit")

    staff = signed_in(demo_app, "staff")
    page = staff.get(f"/console/polls/{poll_id}").get_data(as_text=True)
    assert "question 1 [ar]: the screen does not fit" in page
    refused = post(staff, f"/console/polls/{poll_id}/open")
    assert refused.status_code == 409 and "cannot open: question 1 [ar]" in refused.get_data(as_text=True)
    assert lifecycle.load(db, poll_id).state == "draft"

    # the edit form holds the stored definition; sent back with the Arabic shortened, the poll can open
    form = staff.get(f"/console/polls/{poll_id}/edit").get_data(as_text=True)
    source = re.search(r'<textarea id="f-definition"[^>]*>(.*?)</textarea>', form, re.S).group(1)
    source = html.unescape(source).replace(LONG, "هل الماء متوفر؟")
    saved = post(staff, f"/console/polls/{poll_id}/edit", {"definition": source})
    assert saved.status_code == 303
    poll = lifecycle.load(db, poll_id)
    assert poll.questions[0].text["ar"] == "هل الماء متوفر؟" and poll.questions[2].labels("fr")[0] == \
        i18n.t("fr", "poll.prefer_not") and len(poll.questions[2].options) == 4  # "prefer not to say" added once
    assert post(staff, f"/console/polls/{poll_id}/open").status_code == 303
    bad = post(staff, "/console/polls/new", {"definition": "keyword = 'X'"})
    assert bad.status_code == 400 and "keyword: expected 3 to 12 letters" in bad.get_data(as_text=True)

    for n in range(12):
        answers.record(db, poll, f"+2162070{n:04d}", [1 + (n > 6), n, 1], "kairouan", "fr")
    muni = signed_in(demo_app, "muni")
    page = muni.get(f"/console/polls/{poll_id}").get_data(as_text=True)
    assert 'id="poll-respondents"' in page and "<strong>12</strong>" in page
    assert "58.3%" in page and 'id="poll-close"' not in page and 'id="poll-open"' not in page
    for path in (f"/console/polls/{poll_id}/close", f"/console/polls/{poll_id}/invite", "/console/polls/new"):
        assert post(muni, path).status_code == 403, path
    csv = muni.get(f"/console/polls/{poll_id}.csv")
    assert csv.headers["Content-Disposition"] == f'attachment; filename="dalil-poll-{poll_id}.csv"'
    assert "1,1,Yes,all,,7,58.3,0" in csv.get_data(as_text=True)
