from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from salesreports.errors import ConfigError
from salesreports.params import load_config


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "config.yaml"
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def test_merge_order_defaults_file_env_flags(tmp_path: Path) -> None:
    path = write(tmp_path, "run:\n  workers: 3\n  timeout: 50\nsmtp:\n  host: mail.example.com\n")
    env = {"SALESREPORTS_RUN__TIMEOUT": "70", "SALESREPORTS_SMTP__PORT": "2525"}
    config = load_config(path, {"run": {"workers": 5}}, environ=env)
    assert config.run.workers == 5  # flag beats file
    assert config.run.timeout == 70  # env beats file
    assert config.smtp.host == "mail.example.com"  # file beats default
    assert config.smtp.port == 2525
    assert config.privacy.min_group_size == 5  # default


def test_relative_paths_resolve_against_the_file(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, "source: sources/x.yaml\noutput_dir: ../out\n"), environ={})
    assert config.source_path == (tmp_path / "sources" / "x.yaml").resolve()
    assert config.output_path == (tmp_path.parent / "out").resolve()


def test_unknown_key_names_the_close_match(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as err:
        load_config(write(tmp_path, "run:\n  wokers: 2\n"), environ={})
    assert "run.wokers" in str(err.value) and "workers" in str(err.value)
    assert err.value.file.endswith("config.yaml")


def test_invalid_values_and_yaml(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="min_group_size"):
        load_config(write(tmp_path, "privacy:\n  min_group_size: 1\n"), environ={})
    with pytest.raises(ConfigError, match=r"line \d+, column \d+: invalid YAML"):
        load_config(write(tmp_path, "run:\n  workers: [1\n"), environ={})


def test_project_settings_load() -> None:
    root = Path(__file__).resolve().parents[1]
    config = load_config(root / "params" / "config.yaml", environ={})
    assert config.template("rep").exists() and config.source_path.exists()
    with pytest.raises(ConfigError, match="no template for report kind 'manager'"):
        config.template("manager")


def test_a_pasted_password_is_refused_and_never_echoed(tmp_path: Path) -> None:
    path = write(tmp_path, "smtp:\n  password_env: 'hunter2!s3cret'\n")
    with pytest.raises(ConfigError) as err:
        load_config(path, environ={})
    assert "smtp.password_env" in str(err.value)
    assert "hunter2" not in str(err.value)


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("", "the file is empty (or holds only comments)"),
        ("# company: Acme\n# currency: EUR\n", "the file is empty (or holds only comments)"),
        ("- company\n- currency\n", "expected a mapping of settings keys"),
        ("company: [Acme\n", "invalid YAML"),
        ("name: crm\ntables:\n  deals: {file: deals.csv}\n", "this looks like a source file (it has `tables:`)"),
        ("goals:\n  - id: x\n", "this looks like a goals file"),
    ],
    ids=["empty", "only-comments", "a-list", "unparsable", "a-source-file", "a-goals-file"],
)
def test_a_settings_file_that_sets_nothing_is_an_error_never_the_defaults(
    tmp_path: Path, text: str, fragment: str
) -> None:
    path = tmp_path / "config.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as err:
        load_config(path, environ={})
    assert str(err.value).startswith(str(path))
    assert fragment in str(err.value)
    assert "Fix:" in str(err.value)


def test_locale_and_currency_default_to_en_us_and_dollars(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, "company: Acme\n"), environ={})
    assert (config.locale, config.currency, config.currency_code, config.warnings) == ("en_US", "USD", "USD", [])


def test_a_german_company_in_euros(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, "locale: de-DE\ncurrency: eur\n"), environ={})
    assert (config.locale, config.currency, config.currency_code, config.warnings) == ("de_DE", "EUR", "EUR", [])


@pytest.mark.parametrize(("symbol", "code"), [("$", "USD"), ("€", "EUR"), ("£", "GBP"), ("¥", "JPY")])
def test_an_old_currency_symbol_loads_with_a_deprecation_hint(tmp_path: Path, symbol: str, code: str) -> None:
    config = load_config(write(tmp_path, f'currency: "{symbol}"\n'), environ={})
    assert (config.currency, config.currency_code) == (symbol, code)
    [hint] = config.warnings
    assert f'`currency: "{symbol}"` is a symbol' in hint and f"Fix: write `currency: {code}`" in hint
    assert str(tmp_path / "config.yaml") in hint


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("locale: de_DF\n", r"line 1: key 'locale': unknown locale 'de_DF'\. Did you mean 'de_DE'"),
        ("locale: klingon\n", r"line 1: key 'locale': unknown locale 'klingon'\. .*such as de_DE, fr_FR"),
        ("currency: EUO\n", r"line 1: key 'currency': unknown currency 'EUO'\. Did you mean 'EUR'\?"),
        ("currency: euros\n", r"key 'currency': unknown currency 'euros'.*ISO 4217 code such as EUR"),
    ],
)
def test_an_unknown_locale_or_currency_names_the_setting_and_close_matches(
    tmp_path: Path, text: str, expected: str
) -> None:
    with pytest.raises(ConfigError, match=expected):
        load_config(write(tmp_path, text), environ={})
