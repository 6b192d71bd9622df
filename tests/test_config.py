"""Settings: defaults < TOML file < HYPERLOOM_* environment < explicit values; frozen; clear errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from hyperloom.config import Config
from hyperloom.errors import ConfigError


def test_precedence(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    toml = tmp_path / "hyperloom.toml"
    toml.write_text('namespace = "from-file"\nhnsw_m = 32\n')
    assert Config.load(toml).namespace == "from-file"
    monkeypatch.setenv("HYPERLOOM_NAMESPACE", "from-env")
    config = Config.load(toml)
    assert (config.namespace, config.hnsw_m) == ("from-env", 32)
    assert Config.load(toml, namespace="explicit").namespace == "explicit"


def test_home_defaults_to_xdg_and_follows_the_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    monkeypatch.delenv("HYPERLOOM_HOME", raising=False)
    assert Config().home == tmp_path / "xdg" / "hyperloom"
    monkeypatch.setenv("HYPERLOOM_HOME", str(tmp_path / "h"))
    assert Config().home == tmp_path / "h"


def test_config_is_frozen() -> None:
    with pytest.raises(Exception):
        Config().namespace = "x"  # type: ignore[misc]


@pytest.mark.parametrize("content, message", [("hnsw_m = 0", "`hnsw_m` is invalid"), ("nonsense = 1", "`nonsense` is invalid"), ("a = [", "not valid TOML")])
def test_bad_settings_are_one_clear_error(tmp_path: Path, content: str, message: str) -> None:
    toml = tmp_path / "bad.toml"
    toml.write_text(content)
    with pytest.raises(ConfigError, match=message):
        Config.load(toml)


def test_weights_files_follow_the_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The critic's and the reader's weights are settings like any other (a refit file replaces the shipped one)."""
    monkeypatch.setenv("HYPERLOOM_CRITIC_WEIGHTS", str(tmp_path / "critic.json"))
    config = Config.load(reader_weights=tmp_path / "reader.json")
    assert (config.critic_weights, config.reader_weights) == (tmp_path / "critic.json", tmp_path / "reader.json")
    assert Config().model_copy(update={"critic_weights": None}).critic_weights is None


def test_the_reader_answers_by_default(monkeypatch: pytest.MonkeyPatch) -> None:
    """No LLM by default: the reader led local/smollm2 in every LoCoMo category (README, Measured)."""
    monkeypatch.delenv("HYPERLOOM_MODEL", raising=False)
    assert Config().model == "reader"
