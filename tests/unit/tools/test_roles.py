"""docs/roles.md is the role table read off the routes' declarations, and stays so."""
from pathlib import Path

from cdht_tools import roles

ROOT = Path(__file__).resolve().parents[3]


def test_docs_roles_is_current():
    assert (ROOT / "docs" / "roles.md").read_text(encoding="utf-8") == roles.markdown(), \
        f"docs/roles.md is out of date: run {roles.REGENERATE}"


def test_the_table_marks_what_the_decorators_say():
    table = roles.markdown()
    assert "| `GET /audit` | ✓ |  |  |  |  |" in table              # admin only
    assert "| `POST /assessments` | ✓ | ✓ | ✓ |  | ✓ |" in table     # a citizen submits
    assert "`GET /health`" in table.split("## registry")[0]          # public, listed once


def test_check_says_when_the_file_is_stale(tmp_path, capsys):
    stale = tmp_path / "roles.md"
    stale.write_text("old\n", encoding="utf-8")
    assert roles.main(["--check", str(stale)]) == 1
    assert roles.REGENERATE in capsys.readouterr().err
    stale.write_text(roles.markdown(), encoding="utf-8")
    assert roles.main(["--check", str(stale)]) == 0
