"""The texts of both languages: one catalog per language with the same keys and placeholders, alerts written in
both with the same numbers, and the language setting."""

from __future__ import annotations

import re
import string
from collections import Counter
from datetime import date, timedelta

import polars as pl
import pytest

from store_anomaly.alerts import AlertConfig, build_alerts
from store_anomaly.kpis.catalog import KPIS
from store_anomaly.settings import LANGUAGE_ENV_VAR, LANGUAGES, SettingsError, language_from_env
from store_anomaly.texts import CATALOGS, texts_for
from store_anomaly_tests.alerts.synthetic import SHOPS, flag, flags_frame, make_limits_and_flags, make_metrics, slide
from store_anomaly_tests.bilingual import CJK, numbers

# One worker builds this module's shared fixture once (`make test` runs the suite on two workers).
pytestmark = pytest.mark.xdist_group("test_texts")


def placeholders(template: str) -> Counter:
    """The template's fields with their conversion and format spec."""
    return Counter(
        (field, conversion, spec)
        for _, field, spec, conversion in string.Formatter().parse(template)
        if field is not None
    )


def test_every_language_has_a_catalog_with_the_same_keys_and_placeholders():
    assert set(CATALOGS) == set(LANGUAGES)
    english = CATALOGS["en"]
    for language, catalog in CATALOGS.items():
        assert set(catalog) == set(english), (
            language,
            sorted(set(english) - set(catalog)),
            sorted(set(catalog) - set(english)),
        )
        for key, template in catalog.items():
            assert placeholders(template) == placeholders(english[key]), (language, key)


def test_the_chinese_catalog_is_chinese():
    zh = CATALOGS["zh"]
    words = {key: re.findall(r"[A-Za-z]{3,}", re.sub(r"\{[^}]*\}", "", text)) for key, text in CATALOGS["en"].items()}
    prose = [key for key, found in words.items() if len(found) >= 3]
    assert prose, "the English catalog holds sentences"
    untranslated = [key for key in prose if not CJK.search(zh[key])]
    assert not untranslated, untranslated
    # full-width punctuation, never an English sentence end after Chinese
    assert not [key for key, text in zh.items() if re.search(r"[\u4e00-\u9fff][.;:,]( |$)", text)]


def test_every_kpi_has_a_label_and_unit_in_both_languages():
    for kpi in KPIS:
        assert kpi.label_in("en") == kpi.label and CJK.search(kpi.label_in("zh")), kpi.column
        assert CJK.search(kpi.unit_in("zh")), kpi.column
    assert len({kpi.label_zh for kpi in KPIS}) == len(KPIS)


def test_the_language_setting(monkeypatch):
    monkeypatch.delenv(LANGUAGE_ENV_VAR, raising=False)
    assert language_from_env() == "en"
    monkeypatch.setenv(LANGUAGE_ENV_VAR, " ZH ")
    assert language_from_env() == "zh"
    monkeypatch.setenv(LANGUAGE_ENV_VAR, "fr")
    with pytest.raises(SettingsError, match=f"{LANGUAGE_ENV_VAR}='fr'.*en, zh"):
        language_from_env()
    with pytest.raises(ValueError, match="'fr'"):
        texts_for("fr")


def test_missing_text_names_the_key_and_language():
    with pytest.raises(KeyError, match="'alert.nothing' in the 'zh' catalog"):
        texts_for("zh")("alert.nothing")


def test_holiday_names_in_chinese():
    zh = texts_for("zh")
    assert zh.holiday("Thanksgiving Day") == "感恩节"
    assert zh.holiday("Independence Day (observed)") == "美国独立日（补假）"
    assert zh.holiday("Harvest Day") == "Harvest Day"  # unknown names stay as they are
    assert texts_for("en").holiday("Independence Day (observed)") == "Independence Day (observed)"


def _generated_chain_alerts() -> pl.DataFrame:
    """Alerts of a generated chain covering every kind of sentence: a slide with a rising neighbour
    (cannibalization), a newly opened neighbour, a chain-wide day, excluded rows, a holiday and a closed day."""
    slide_start = date(2025, 10, 6)
    down, up = slide("US00001", slide_start, depth=0.25), slide("US00004", slide_start, depth=-0.20)
    metrics = make_metrics(traffic=lambda shop, day: down(shop, day) * up(shop, day))
    _, flags = make_limits_and_flags(metrics)
    frames = [build_alerts(flags, metrics, None, AlertConfig())]

    opened = make_metrics(traffic=slide("US00001", slide_start), first_day={"US00004": slide_start})
    frames.append(build_alerts(make_limits_and_flags(opened)[1], opened, None, AlertConfig()))

    d0 = date(2025, 10, 1)
    quiet = make_metrics(start=d0 - timedelta(days=120), days=130).with_columns(
        pl.when((pl.col("shop_no") == "US00009") & (pl.col("metric_date") == d0 + timedelta(1)))
        .then(pl.lit(1234))
        .otherwise(pl.col("dq_null_pay_money"))
        .alias("dq_null_pay_money"),
        pl.when(pl.col("metric_date") == d0 + timedelta(3))
        .then(pl.lit("Columbus Day"))
        .otherwise(pl.col("holiday_name"))
        .alias("holiday_name"),
        ((pl.col("shop_no") == "US00009") & (pl.col("metric_date") == d0 + timedelta(2))).alias("is_closed"),
    )
    rows = [flag(d0, shop, severity="CRITICAL") for shop in SHOPS[:8]]
    rows += [flag(d0 + timedelta(days), "US00009", severity="CRITICAL") for days in (1, 4)]
    rows.append(flag(d0 + timedelta(2), "US00010", metric="avg_production_seconds", direction="up"))
    frames.append(build_alerts(flags_frame(rows), quiet, None, as_of=d0 + timedelta(5)))
    return pl.concat(frames)


@pytest.fixture(scope="module")
def chain_alerts() -> pl.DataFrame:
    return _generated_chain_alerts()


def test_both_languages_quote_the_same_numbers(chain_alerts):
    assert chain_alerts.height >= 12
    for alert in chain_alerts.iter_rows(named=True):
        for english, chinese in (("description", "description_zh"), ("recommended_action", "recommended_action_zh")):
            assert alert[chinese] and CJK.search(alert[chinese]), (alert["alert_id"], chinese)
            assert numbers(alert[english]) == numbers(alert[chinese]), (alert[english], alert[chinese])


def test_the_generated_chain_covers_every_kind_of_sentence(chain_alerts):
    english = " ".join(chain_alerts["description"]) + " ".join(chain_alerts["recommended_action"])
    chinese = "".join(chain_alerts["description_zh"]) + "".join(chain_alerts["recommended_action_zh"])
    for en, zh in (
        ("Possible cannibalization:", "可能存在客源分流："),
        ("opened on", "开业"),
        ("Chain-wide:", "全连锁范围："),
        ("Store-specific:", "单店问题："),
        ("source rows were excluded", "行源数据被剔除"),
        ("Holidays in the window: Columbus Day", "时间窗口内的公共假日：哥伦布日"),
        ("The store was closed on", "天闭店"),
        ("Reading:", "解读："),
        ("escalated to", "升级为"),
    ):
        assert en in english and zh in chinese, (en, zh)
    assert not re.search(r"First flagged|Data quality|Reading:|Close the loop", chinese)
