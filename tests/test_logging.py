"""log.txt collects every run in a folder, so a resumed run's result lands where parsers look."""
import sys

from metaprompt.runtime.builtin.utils import setup_logger


def test_setup_logger_appends_to_existing_log(tmp_path):
    console = sys.stdout
    try:
        setup_logger(str(tmp_path))
        print("first run crashed")
        setup_logger(str(tmp_path))
        print("* accuracy: 50.0%")
    finally:
        if sys.stdout is not console:
            sys.stdout.close()
            sys.stdout = console
    text = (tmp_path / "log.txt").read_text()
    assert "first run crashed" in text and "* accuracy: 50.0%" in text
    assert text.index("first run crashed") < text.index("new run appended") < text.index("* accuracy")
    assert [p.name for p in tmp_path.iterdir()] == ["log.txt"]
