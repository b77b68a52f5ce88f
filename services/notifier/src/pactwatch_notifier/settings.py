"""notifier's settings (environment variables, PACTWATCH_ prefix)."""

from pactwatch.settings import ServiceSettings
from pydantic import Field


class NotifierSettings(ServiceSettings):
    """When to alert and how long alerts are kept."""

    lookback_days: int = Field(
        default=365, ge=0, description="Older signings reported after the fact never alert."
    )
    alert_retention_days: float = Field(
        default=90, gt=0, description="Alerts older than this leave the alerts.agreements stream."
    )
