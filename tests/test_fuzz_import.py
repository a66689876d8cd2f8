"""Random import files: `evsh import` takes a whole file or nothing, and says which line is wrong.

Each file is lines of a real export (of the seeded shop store, and new events of new streams),
some of them mutated: a field given the wrong type, a huge or negative number, nan, a key
missing or unknown, bytes that are not UTF-8, a NUL, C0/C1 controls and bidi overrides in names,
a line cut short. Imported into an empty store and into the store the lines came from (where
most are already there), evsh answers 0, or 2 with `line N:` naming a line of the file, or 3
for an event id already stored elsewhere, and on any error the store is as it was.
"""

from __future__ import annotations

import json
import os
import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.fuzz_support import SHOP, check, copy_of, digest, examples, make_template, run_evsh

FIELDS = ["event_id", "stream_id", "version", "position", "type", "data", "metadata", "recorded_at", "evsh_format"]
ODD_VALUES = [None, True, False, 0, -1, 1, 2**63, 2**70, -(2**70), 1.5, 1e308, "", " ", "x", "1", "\u202ex", "a\x9bb",
              "a\x1b]0;t\x07", "[/oops]", "a\u2028b", "00000000-0000-0000-0000-000000000000", {}, [], [1], {"a": {}},
              {"schema_version": "x"}, {"schema_version": 2**70}, {"correlation_id": []}, "2026-13-45T10:00Z",
              "2026-01-01T00:00:00Z", "9999-12-31T23:59:59Z"]
RAW_JUNK = [b"\xff", b"\xc3", b"\x00", b"\xed\xa0\x80", "\u202e".encode(), b"\r", b"NaN", b"Infinity", b"1e999999",
            b"9" * 5000, b'"', b"{", b"}", b",", b"\\u0000", b"\\ud800"]


def fresh_event(n: int) -> dict:
    return {"event_id": f"0190a000-0000-7000-8000-{n:012d}", "stream_id": f"b-{n % 3}", "version": n // 3 + 1,
            "type": "Noted", "data": {"n": n}, "metadata": {"schema_version": 1}}


@st.composite
def import_line(draw: st.DrawFn, known: list[dict]) -> bytes:
    base = dict(draw(st.sampled_from(known)) if known and draw(st.booleans()) else fresh_event(draw(st.integers(1, 40))))
    for _ in range(draw(st.integers(0, 3))):
        how = draw(st.integers(0, 3))
        field = draw(st.sampled_from(FIELDS))
        if how == 0:
            base.pop(field, None)
        elif how == 1:
            base[field] = draw(st.sampled_from(ODD_VALUES))
        elif how == 2:
            base[draw(st.sampled_from(["extra", "data", "metadata"]))] = {"n": draw(st.sampled_from(ODD_VALUES))}
        else:
            base[field] = draw(st.text(st.characters(blacklist_categories=("Cs",)), max_size=6))  # bad UTF-8: RAW_JUNK
    raw = json.dumps(base, ensure_ascii=draw(st.booleans())).encode("utf-8", "surrogatepass")
    cut = draw(st.integers(0, 9))
    if cut == 0:  # a byte or a few dropped in, somewhere
        at = draw(st.integers(0, len(raw)))
        raw = raw[:at] + draw(st.sampled_from(RAW_JUNK)) + raw[at:]
    elif cut == 1:  # a line cut short
        raw = raw[: draw(st.integers(0, len(raw)))]
    return raw


def line_number(stderr: str) -> int | None:
    m = re.search(r"\bline (\d+):", stderr)
    return int(m.group(1)) if m else None


@pytest.fixture(scope="module")
def template(tmp_path_factory) -> tuple[str, list[dict]]:
    folder = make_template(str(tmp_path_factory.mktemp("fuzz-import")))
    with open(os.path.join(folder, "export.jsonl"), encoding="utf-8") as fh:
        known = [json.loads(line) for line in fh]
    return folder, known


@examples(3.0)
@given(st.data(), st.booleans(), st.booleans())
def test_any_import_file_is_taken_whole_or_refused_naming_its_line(template, data, into_empty, with_domain):
    folder_t, known = template
    lines = data.draw(st.lists(import_line(known), min_size=1, max_size=6), "lines")
    body = b"".join(line + b"\n" for line in lines)
    with copy_of(folder_t) as folder:
        db = os.path.join(folder, "evsh.db")
        if into_empty:
            for suffix in ("", "-wal", "-shm"):
                if os.path.exists(db + suffix):
                    os.remove(db + suffix)
        with open(os.path.join(folder, "in.jsonl"), "wb") as fh:
            fh.write(body)
        before = digest(db)
        run = run_evsh(folder, [*(SHOP if with_domain else []), "import", "in.jsonl"])
        check(run, before, digest(db))
        said = f"{body!r}\n{run.stderr}"
        assert run.exit_code in (0, 2, 3), said
        if run.exit_code == 2:
            n = line_number(run.stderr)
            assert n is not None and 1 <= n <= len(lines), said
            assert len(run.stderr.strip().splitlines()) == 1, said
        if into_empty and run.exit_code != 0:
            assert not os.path.exists(db), f"a refused import left a store where there was none:\n{said}"
