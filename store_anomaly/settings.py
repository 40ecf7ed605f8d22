"""Platform settings that are not secrets: scope exclusions and calendars, from the environment."""

from __future__ import annotations

import os

from dagster import ConfigurableResource
from pydantic import Field

EXCLUDED_SHOPS_ENV_VAR = "STORE_ANOMALY_EXCLUDED_SHOPS"


class PlatformSettings(ConfigurableResource):
    """Scope and calendar settings shared by the assets."""

    excluded_shops: str = Field(default="", description="comma-separated shop_no values never scored")
    default_time_zone: str = Field(
        default="America/New_York", description="zone for dating rows of departments no store owns (orphans)"
    )
    holiday_country: str = Field(default="US", description="country of the public-holiday calendar")
    holiday_subdivision: str = Field(default="NY", description="subdivision of the public-holiday calendar")

    @property
    def excluded_shop_numbers(self) -> set[str]:
        return {shop.strip() for shop in self.excluded_shops.replace(";", ",").split(",") if shop.strip()}

    @classmethod
    def from_env(cls) -> PlatformSettings:
        return cls(excluded_shops=os.environ.get(EXCLUDED_SHOPS_ENV_VAR, ""))
