import pytest

from downscale.sizes import parse_list


def test_parse_list_strips_converts_and_drops_empty_items():
    assert parse_list("learned, area,,") == ["learned", "area"]
    assert parse_list("2,4", int) == [2, 4] and parse_list(" 0.5 ,1", float) == [0.5, 1.0]
    assert parse_list("") == [] and parse_list("8,16", int, count=2) == [8, 16]


@pytest.mark.parametrize("text, kind, count, message", [
    ("8,x", int, None, "expected comma-separated numbers, e.g. 8,16; got '8,x'"),
    ("1,2,3", float, 2, "expected two numbers separated by a comma, e.g. 8,16; got '1,2,3'"),
    ("a", str, 4, "expected 4 names separated by a comma, e.g. 8,16; got 'a'"),
])
def test_parse_list_says_what_it_expected_and_got(text, kind, count, message):
    with pytest.raises(ValueError) as caught:
        parse_list(text, kind, count, example="8,16")
    assert str(caught.value) == message


def test_every_command_list_option_goes_through_parse_list():
    """One list parser: no other module splits an option value at commas itself."""
    from conftest import REPO

    sources = {p.relative_to(REPO).as_posix(): p.read_text() for p in (REPO / "downscale").rglob("*.py")}
    assert [name for name, text in sources.items() if '.split(",")' in text] == ["downscale/sizes.py"]
