"""Sample conversations shipped with the package (the quick start and `--demo` use them)."""
from importlib import resources
from pathlib import Path


def sample_path(name: str = "demo.json") -> Path:
    return Path(str(resources.files(__name__).joinpath(name)))
