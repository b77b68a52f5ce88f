"""notifier's settings (environment variables, PACTWATCH_ prefix)."""

from __future__ import annotations

import ipaddress
from typing import Annotated, Any

from pactwatch.settings import ServiceSettings
from pydantic import Field, field_validator
from pydantic_settings import NoDecode

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


class NotifierSettings(ServiceSettings):
    """When to alert, how long alerts are kept, how webhooks are delivered."""

    lookback_days: int = Field(
        default=365, ge=0, description="Older signings reported after the fact never alert."
    )
    alert_retention_days: float = Field(
        default=90, gt=0, description="Alerts older than this leave the alerts.agreements stream."
    )
    sse_heartbeat_s: float = Field(
        default=15.0, gt=0, description="A comment on idle server-sent event streams this often."
    )

    webhook_max_subscriptions: int = Field(
        default=10_000, ge=1, description="More subscriptions are refused (409)."
    )
    webhook_max_attempts: int = Field(
        default=12,
        ge=1,
        le=100,
        description="Attempts per delivery before it goes to the dead list.",
    )
    webhook_backoff_s: float = Field(
        default=2.0, gt=0, description="Delay before the first retry; doubles with each attempt."
    )
    webhook_backoff_max_s: float = Field(
        default=900.0, gt=0, description="Longest delay between two attempts."
    )
    webhook_timeout_s: float = Field(
        default=10.0, gt=0, description="Whole-request limit of one delivery attempt."
    )
    webhook_concurrency: int = Field(
        default=64, ge=1, le=10_000, description="Deliveries in flight at once, per replica."
    )
    webhook_per_subscription: int = Field(
        default=4,
        ge=1,
        description="Deliveries in flight to one subscription, per replica: a slow receiver "
        "cannot take every slot.",
    )
    webhook_log_size: int = Field(
        default=100, ge=1, description="Delivery attempts kept per subscription (newest first)."
    )
    webhook_dead_size: int = Field(
        default=1000, ge=1, description="Dead deliveries kept per subscription (newest first)."
    )
    webhook_allow_private: bool = Field(
        default=False,
        description="Allow webhook URLs on private, loopback and link-local addresses.",
    )
    webhook_allow_networks: Annotated[tuple[Network, ...], NoDecode] = Field(
        default=(),
        description="CIDRs allowed although private (comma-separated), e.g. 10.1.0.0/16.",
    )

    @field_validator("webhook_allow_networks", mode="before")
    @classmethod
    def _split_networks(cls, value: Any) -> Any:
        if isinstance(value, str):
            return tuple(
                ipaddress.ip_network(part.strip(), strict=False)
                for part in value.split(",")
                if part.strip()
            )
        return value
