import pytest

from downscale.thumbnet.config import TrainConfig

SHARED = __import__("pathlib").Path(__file__).resolve().parents[2] / ".." / "shared"


@pytest.fixture
def tiny_config(tiny_data, tmp_path):
    def make(**overrides):
        options = dict(data=str(tiny_data / "data"), teacher_weights=str(tiny_data / "teacher.pt"),
                       out=str(tmp_path / "run"), image_size=64, batch_size=4, limit=8, holdout=4,
                       epochs=1, workers=0, log_every=1, cache=str(tmp_path / "cache"))
        options.update(overrides)
        return TrainConfig(**options)
    return make
