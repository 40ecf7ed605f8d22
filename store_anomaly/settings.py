"""Platform settings that are not secrets: scope exclusions, calendars and plausibility bounds, from the
environment."""

from __future__ import annotations

import os

from dagster import ConfigurableResource
from pydantic import Field

from store_anomaly.sources.extracts import PlausibilityBounds

EXCLUDED_SHOPS_ENV_VAR = "STORE_ANOMALY_EXCLUDED_SHOPS"
# The source contract's plausibility bounds: rows beyond them are excluded from the KPIs and counted.
MAX_PAY_MONEY_ENV_VAR = "STORE_ANOMALY_MAX_PAY_MONEY"
MAX_PRODUCTION_SECONDS_ENV_VAR = "STORE_ANOMALY_MAX_PRODUCTION_SECONDS"
QC_SCORE_MIN_ENV_VAR = "STORE_ANOMALY_QC_SCORE_MIN"
QC_SCORE_MAX_ENV_VAR = "STORE_ANOMALY_QC_SCORE_MAX"


class SettingsError(ValueError):
    """A setting variable holds something unusable; the message names the variable."""


def _number_from_env(variable: str, default: float) -> float:
    text = os.environ.get(variable, "").strip()
    if not text:
        return default
    try:
        return float(text)
    except ValueError:
        raise SettingsError(f"{variable}={text!r} is not a number") from None


class PlatformSettings(ConfigurableResource):
    """Scope and calendar settings shared by the assets."""

    excluded_shops: str = Field(default="", description="comma-separated shop_no values never scored")
    default_time_zone: str = Field(
        default="America/New_York", description="zone for dating rows of departments no store owns (orphans)"
    )
    holiday_country: str = Field(default="US", description="country of the public-holiday calendar")
    holiday_subdivision: str = Field(default="NY", description="subdivision of the public-holiday calendar")
    max_pay_money: float = Field(default=10_000, description="a trade above this many USD is implausible")
    max_production_seconds: float = Field(
        default=7_200, description="a production order longer than this is implausible (default 2 hours)"
    )
    qc_score_min: float = Field(default=0, description="lowest plausible QC score")
    qc_score_max: float = Field(default=100, description="highest plausible QC score")

    @property
    def bounds(self) -> PlausibilityBounds:
        return PlausibilityBounds(
            max_pay_money=self.max_pay_money,
            max_production_seconds=self.max_production_seconds,
            qc_score_min=self.qc_score_min,
            qc_score_max=self.qc_score_max,
        )

    @property
    def excluded_shop_numbers(self) -> set[str]:
        return {shop.strip() for shop in self.excluded_shops.replace(";", ",").split(",") if shop.strip()}

    @classmethod
    def from_env(cls) -> PlatformSettings:
        settings = cls(
            excluded_shops=os.environ.get(EXCLUDED_SHOPS_ENV_VAR, ""),
            max_pay_money=_number_from_env(MAX_PAY_MONEY_ENV_VAR, 10_000),
            max_production_seconds=_number_from_env(MAX_PRODUCTION_SECONDS_ENV_VAR, 7_200),
            qc_score_min=_number_from_env(QC_SCORE_MIN_ENV_VAR, 0),
            qc_score_max=_number_from_env(QC_SCORE_MAX_ENV_VAR, 100),
        )
        if settings.max_pay_money <= 0 or settings.max_production_seconds <= 0:
            raise SettingsError(f"{MAX_PAY_MONEY_ENV_VAR} and {MAX_PRODUCTION_SECONDS_ENV_VAR} must be positive")
        if settings.qc_score_min > settings.qc_score_max:
            raise SettingsError(f"{QC_SCORE_MIN_ENV_VAR} is above {QC_SCORE_MAX_ENV_VAR}")
        return settings
