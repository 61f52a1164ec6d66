import json
import subprocess

import pytest

from messages.segments import count, non_gsm7_characters


@pytest.mark.parametrize("text,expected", [
    ("", ("GSM-7", 0, 0)),
    ("a" * 160, ("GSM-7", 160, 1)),
    ("a" * 161, ("GSM-7", 161, 2)),
    ("a" * 306, ("GSM-7", 306, 2)),
    ("a" * 307, ("GSM-7", 307, 3)),
    ("€" * 80, ("GSM-7", 160, 1)),          # extension characters take two septets
    ("a" * 152 + "€" + "a" * 152, ("GSM-7", 306, 3)),  # the escape pair may not straddle two parts
    ("ç", ("UCS-2", 1, 1)),                  # lower-case c-cedilla is not in GSM 03.38
    ("Ç", ("GSM-7", 1, 1)),                  # the capital is
    ("مرحبا" * 14, ("UCS-2", 70, 1)),
    ("مرحبا" * 15, ("UCS-2", 75, 2)),
    ("😀" * 35, ("UCS-2", 70, 1)),           # surrogate pairs count two units
    ("a" * 69 + "😀", ("UCS-2", 71, 2)),
])
def test_count(text, expected):
    s = count(text)
    assert (s.encoding, s.characters, s.segments) == expected


def test_one_french_accent_turns_the_message_into_ucs2():
    text = "Formation gratuite a Medenine, inscrivez-vous avant lundi. Reponse: 1 pour oui."
    assert count(text).encoding == "GSM-7"
    assert count(text.replace("Formation", "Formation œ")).encoding == "UCS-2"
    assert non_gsm7_characters("Réunion à l'œuvre ç") == ["œ", "ç"]  # é and à are in GSM-7


def test_cli_prints_contract_json():
    out = subprocess.run(["dalil", "segments", "مرحبا بكم"], capture_output=True, text=True, check=True).stdout
    assert json.loads(out) == {"encoding": "UCS-2", "characters": 9, "segments": 1}
