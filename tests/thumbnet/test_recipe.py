"""The thumbnail-student recipe of docs/training.md, run as written on a tiny folder (with a smaller budget)."""

import re
import shlex
from pathlib import Path

from click.testing import CliRunner

from downscale.cli import main

DOCS = Path(__file__).resolve().parents[2] / "docs" / "training.md"
# the budget of a tiny run: later options override the documented ones
TINY = {"train": ["--image-size", "64", "--limit", "8", "--holdout", "4", "--epochs", "1", "--batch-size", "4",
                  "--workers", "0"],
        "eval": ["--image-size", "64", "--batch-size", "4", "--latency-repeats", "0", "--grid-images", "0"]}


def recipe_commands() -> list[list[str]]:
    block = re.search(r"<!-- recipe:.*?-->\n```bash\n(.*?)```", DOCS.read_text(), re.S).group(1)
    return [shlex.split(line) for line in block.splitlines() if line.startswith("downscale ")]


def test_the_documented_recipe_trains_and_evaluates_both_students(tiny_data, tmp_path):
    commands = recipe_commands()
    assert [c[1] for c in commands] == ["train", "train", "eval", "eval"]
    places = {"TRAIN": str(tiny_data / "data"), "VAL": str(tiny_data / "data"), "W.pt": str(tiny_data / "teacher.pt")}
    for command in commands:
        args = [places.get(a, str(tmp_path / a) if a.startswith("runs/") else a) for a in command[1:]]
        result = CliRunner().invoke(main, args + TINY[command[1]])
        assert result.exit_code == 0, (command, result.output)
    for ratio, enlarged in ((2, False), (4, True)):
        card = (tmp_path / f"runs/students-r{ratio}/card.md").read_text()
        assert f"ratio {ratio}" in card and "Held-out top-1 after each epoch" in card
        assert enlarged == ("enlarges" in card)
        report = (tmp_path / f"runs/eval-students-r{ratio}/results.md").read_text()
        assert "★" in report and "(1/" in report  # the student's own thumbnails, FLOPs against the full size
