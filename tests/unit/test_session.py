"""The Session: one place for settings (arguments > %config > environment > defaults) and for
what they decide (real API or the embedded simulator)."""

from __future__ import annotations

from typing import Any

import pytest

from seedream_jupyter import catalog, config
from seedream_jupyter.client import Client
from seedream_jupyter.errors import ConfigurationError
from seedream_jupyter.session import Session


@pytest.fixture
def fresh() -> Session:
    return Session()


def test_the_key_comes_from_the_env_and_is_never_shown(
    monkeypatch: pytest.MonkeyPatch, fresh: Session
) -> None:
    key = "sk-test-env-key-98765"
    monkeypatch.setenv("WAVE_API_KEY", key)
    target = fresh.target()
    assert target.api_key == key and not target.simulated
    assert target.base_url == catalog.DEFAULT_BASE_URL
    assert key not in repr(target) and key not in target.describe()
    assert key not in repr(Client())


def test_key_file(monkeypatch: pytest.MonkeyPatch, tmp_path: Any, fresh: Session) -> None:
    key = "sk-test-from-file-55555"
    path = tmp_path / "key.txt"
    path.write_text(f"  {key}\n")
    monkeypatch.setenv("WAVE_API_KEY_FILE", str(path))
    assert fresh.target().api_key == key


def test_missing_key_file_is_a_configuration_error(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Any, fresh: Session
) -> None:
    monkeypatch.setenv("WAVE_API_KEY_FILE", str(tmp_path / "missing"))
    with pytest.raises(ConfigurationError, match="WAVE_API_KEY_FILE"):
        fresh.target()


def test_precedence_argument_then_config_then_env_then_default(
    monkeypatch: pytest.MonkeyPatch, fresh: Session
) -> None:
    assert fresh.get("model") == catalog.DEFAULT_MODEL
    assert fresh.source("budget_usd") == "default"
    monkeypatch.setenv("SEEDREAM_BUDGET_USD", "5")
    assert fresh.budget_usd() == 5.0 and fresh.source("budget_usd") == "SEEDREAM_BUDGET_USD"
    fresh.configure(budget_usd=2.0, model="doubao-seedream-4.0")
    assert fresh.budget_usd() == 2.0 and fresh.source("budget_usd") == "%config"
    assert fresh.budget_usd(1.0) == 1.0
    assert fresh.get("model") == "doubao-seedream-4.0"
    fresh.configure(budget_usd=None)  # %config says "no budget": beats the environment
    assert fresh.budget_usd() is None
    fresh.reset()
    assert fresh.budget_usd() == 5.0


def test_a_bad_budget_in_the_env_names_the_variable(
    monkeypatch: pytest.MonkeyPatch, fresh: Session
) -> None:
    monkeypatch.setenv("SEEDREAM_BUDGET_USD", "lots")
    with pytest.raises(ConfigurationError, match="lots"):
        fresh.budget_usd()


def test_unknown_settings_are_refused(fresh: Session) -> None:
    with pytest.raises(ConfigurationError, match="unknown setting 'colour'"):
        fresh.configure(colour="red")


def test_no_key_means_the_embedded_simulator(fresh: Session) -> None:
    target = fresh.target()
    assert target.simulated and target.api_key is None
    assert "embedded simulator" in target.describe() and "no WAVE_API_KEY" in target.why


def test_the_simulator_can_be_forced(monkeypatch: pytest.MonkeyPatch, fresh: Session) -> None:
    monkeypatch.setenv("WAVE_API_KEY", "sk-test-env-3333")
    monkeypatch.setenv("SEEDREAM_SIMULATOR", "1")
    assert fresh.target().simulated
    monkeypatch.delenv("SEEDREAM_SIMULATOR")
    assert not fresh.target().simulated
    fresh.configure(simulator=True)
    assert fresh.target().simulated


def test_a_base_url_wins_over_the_simulator_default(
    monkeypatch: pytest.MonkeyPatch, fresh: Session
) -> None:
    monkeypatch.setenv("SEEDREAM_BASE_URL", "https://env.test/")
    target = fresh.target()
    assert (target.base_url, target.simulated) == ("https://env.test", False)
    fresh.configure(base_url="http://config.test")
    assert fresh.target().base_url == "http://config.test"


@pytest.mark.parametrize("url", ["ftp://x.test", "www.qingbo.dev", "http://"])
def test_bad_base_url(url: str, fresh: Session, monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ConfigurationError, match=r"SeedreamMagic.base_url: .*http\(s\) URL"):
        fresh.configure(base_url=url)
    monkeypatch.setenv("SEEDREAM_BASE_URL", url)
    with pytest.raises(ConfigurationError, match="SEEDREAM_BASE_URL="):
        fresh.target()
    with pytest.raises(ConfigurationError):
        Client(api_key="sk-test-x", base_url=url)


@pytest.mark.parametrize(
    ("name", "value", "says"),
    [
        ("budget_usd", -5, "below zero"),
        ("budget_usd", "lots", "not a number"),
        ("budget_usd", float("nan"), "not a finite number"),
        ("confirm_above_usd", -0.01, "below zero"),
        ("timeout", 0, "not above zero"),
        ("timeout", -1, "not above zero"),
        ("timeout", True, "not a number"),
    ],
)
def test_bad_settings_are_refused_when_set_naming_the_fix(
    name: str, value: Any, says: str, fresh: Session
) -> None:
    with pytest.raises(ConfigurationError, match=f"SeedreamMagic.{name}: .*{says}: give "):
        fresh.configure(**{name: value})
    assert fresh.source(name) == "default"  # nothing half-set


def test_good_settings_are_kept(fresh: Session) -> None:
    fresh.configure(budget_usd=0, timeout="0.5", confirm_above_usd=None, base_url="http://x.test/")
    assert fresh.get("budget_usd") == 0.0 and fresh.get("timeout") == 0.5
    assert fresh.get("base_url") == "http://x.test" and fresh.get("confirm_above_usd") is None


def test_a_negative_budget_in_the_env_names_the_variable(
    monkeypatch: pytest.MonkeyPatch, fresh: Session
) -> None:
    monkeypatch.setenv("SEEDREAM_BUDGET_USD", "-1")
    with pytest.raises(ConfigurationError, match=r"SEEDREAM_BUDGET_USD='-1': .*below zero"):
        fresh.get("budget_usd")


def test_home_dir_from_env(isolated_env: Any, fresh: Session) -> None:
    assert config.home_dir() == isolated_env
    assert fresh.home == isolated_env


def test_a_client_without_key_for_the_real_api_says_what_to_do() -> None:
    client = Client()
    with pytest.raises(ConfigurationError, match="WAVE_API_KEY"):
        client.get("task_1")


def test_the_front_end_is_chosen_at_call_time(fresh: Session) -> None:
    shown: list[str] = []

    class Recorder:
        def progress(self, title: str) -> None:
            shown.append(f"progress {title}")

        def notice(self, text: str) -> None:
            shown.append(f"notice {text}")

    assert fresh.frontend() is None  # pytest: no kernel, no terminal
    fresh.set_frontend(Recorder())
    fresh.progress("a fox")
    fresh.notice("hello")
    assert shown == ["progress a fox", "notice hello"]
