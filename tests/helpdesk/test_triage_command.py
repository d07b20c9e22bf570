"""`tenure triage evaluate`, run through Django's command machinery on CSV files written by the tests."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from tests.helpdesk.test_triage_classifier import ROWS


def write_csv(path: Path, rows: list[tuple[str, str]], header: tuple[str, ...] = ("text", "label")) -> Path:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def evaluate(train: Path, test: Path, *extra: str) -> str:
    out = io.StringIO()
    call_command("triage", "evaluate", "--train", str(train), "--test", str(test), *extra, stdout=out)
    return out.getvalue()


def test_evaluate_prints_one_json_line(tmp_path: Path) -> None:
    train = write_csv(tmp_path / "train.csv", ROWS)
    test = write_csv(
        tmp_path / "test.csv",
        [
            ("I think I was billed twice", "billing"),
            ("Can you come on Monday instead?", "scheduling"),
            ("The heater makes a loud noise and leaks water", "service"),
            ("Refund me the extra charge, please", "billing"),
        ],
    )
    output = evaluate(train, test, "--threshold", "0")
    assert output.count("\n") == 1
    result = json.loads(output)
    assert result["accuracy"] == 1.0
    assert result["macro_f1"] == 1.0
    assert result["train_rows"] == len(ROWS)
    assert result["test_rows"] == 4
    assert result["labels"] == 3
    assert result["abstention_rate"] == 0.0


def test_a_high_threshold_abstains(tmp_path: Path) -> None:
    train = write_csv(tmp_path / "train.csv", ROWS)
    test = write_csv(tmp_path / "test.csv", [("hello there", "billing"), ("my bill is wrong", "billing")])
    result = json.loads(evaluate(train, test, "--threshold", "1"))
    assert result["abstention_rate"] == 1.0
    assert result["accuracy_when_answered"] is None


def test_missing_column_names_the_line_and_the_column(tmp_path: Path) -> None:
    train = write_csv(tmp_path / "train.csv", [("a", "b")], header=("text", "department"))
    test = write_csv(tmp_path / "test.csv", ROWS)
    with pytest.raises(CommandError, match=r"train\.csv line 1: missing column\(s\) label"):
        evaluate(train, test)


def test_empty_file(tmp_path: Path) -> None:
    (tmp_path / "empty.csv").write_bytes(b"")
    test = write_csv(tmp_path / "test.csv", ROWS)
    with pytest.raises(CommandError, match=r"empty\.csv: the file is empty"):
        evaluate(tmp_path / "empty.csv", test)


def test_header_only(tmp_path: Path) -> None:
    train = write_csv(tmp_path / "train.csv", ROWS)
    test = write_csv(tmp_path / "test.csv", [])
    with pytest.raises(CommandError, match="a header but no rows"):
        evaluate(train, test)


def test_non_utf8_file_names_the_line(tmp_path: Path) -> None:
    train = write_csv(tmp_path / "train.csv", ROWS)
    latin1 = tmp_path / "latin1.csv"
    latin1.write_bytes("text,label\nhello,general\nmon reçu est faux,billing\n".encode("latin-1"))
    with pytest.raises(CommandError, match=r"latin1\.csv line 3: not UTF-8 text \(byte 0xe7\)"):
        evaluate(train, latin1)


def test_empty_text_and_short_rows_name_the_line(tmp_path: Path) -> None:
    train = write_csv(tmp_path / "train.csv", ROWS)
    blank = tmp_path / "blank.csv"
    blank.write_text("text,label\nhello,general\n  ,billing\n", encoding="utf-8")
    with pytest.raises(CommandError, match=r"blank\.csv line 3: empty text"):
        evaluate(train, blank)
    short = tmp_path / "short.csv"
    short.write_text("text,label\nhello,general\njust text\n", encoding="utf-8")
    with pytest.raises(CommandError, match=r"short\.csv line 3: too few fields"):
        evaluate(train, short)


def test_missing_file_and_one_label(tmp_path: Path) -> None:
    test = write_csv(tmp_path / "test.csv", ROWS)
    with pytest.raises(CommandError, match=r"nope\.csv: cannot read the file"):
        evaluate(tmp_path / "nope.csv", test)
    one = write_csv(tmp_path / "one.csv", [("a bill", "billing"), ("another bill", "billing")])
    with pytest.raises(CommandError, match="at least two different labels"):
        evaluate(one, test)


def test_a_bom_and_extra_columns_are_fine(tmp_path: Path) -> None:
    train = tmp_path / "bom.csv"
    body = "id,text,label\n" + "".join(f'{i},"{text}",{label}\n' for i, (text, label) in enumerate(ROWS))
    train.write_bytes(b"\xef\xbb\xbf" + body.encode("utf-8"))
    result = json.loads(evaluate(train, train, "--threshold", "0"))
    assert result["train_rows"] == len(ROWS)
