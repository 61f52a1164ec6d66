"""Numbers as providers send them become one E.164 form; a caller's contact key does not depend on the form."""
from __future__ import annotations

import hashlib
import hmac

import phonenumbers
import pytest
from hypothesis import given
from hypothesis import strategies as st

from gateway import contacts


@given(st.text(alphabet="0123456789", min_size=8, max_size=8))
def test_every_tunisian_number_normalizes_as_the_phone_number_library_says(digits):
    """The short path for '+216' and 8 digits gives what phonenumbers gives, for every 8-digit number."""
    parsed = phonenumbers.parse("+216" + digits, "TN")
    expected = phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)
    assert contacts.normalize("+216" + digits) == expected


@pytest.mark.parametrize("raw", ["+21620123456", "21620123456", "0021620123456", "20123456", " +216 20 123 456 "])
def test_the_forms_aggregators_use_are_one_number(raw):
    assert contacts.normalize(raw) == "+21620123456"


@pytest.mark.parametrize("raw", ["+2162012345", "+216201234567", "not a number", ""])
def test_what_is_not_a_tunisian_number_is_refused(raw):
    with pytest.raises(contacts.BadNumber):
        contacts.normalize(raw)


def test_the_contact_key_is_the_hmac_of_the_number():
    secret = b"s" * 32
    assert contacts.contact_key(secret, "+21620123456") == hmac.new(secret, b"+21620123456", hashlib.sha256).hexdigest()


def test_a_caller_heard_again_in_a_new_epoch_keeps_what_was_known(tmp_path):
    """Language set in one epoch, governorate in the next: one row, under the new epoch, with both."""
    from gateway import initialize
    from gateway.config import load
    ctx = initialize(load({"gateway": {"database": str(tmp_path / "d.db"), "keys_dir": str(tmp_path / "keys")}}))
    db, key = ctx.db(), contacts.contact_key(b"s" * 32, "+21620123456")
    epoch = contacts.current_epoch()
    contacts.remember(db, key, language="fr")
    db.execute("UPDATE contacts SET contact_key = ?, epoch = ?", [contacts._row_key(key, epoch - 1), epoch - 1])
    assert contacts.get(db, key) == {"language": "fr", "governorate": None}  # last epoch's row still read
    contacts.remember(db, key, governorate="tataouine")
    assert contacts.get(db, key) == {"language": "fr", "governorate": "tataouine"}
    assert db.execute("SELECT epoch FROM contacts").fetchall() == [(epoch,)]
