"""Whether a sighting deserves an alert, and which kind of sighting it is. Pure functions."""

from __future__ import annotations

from datetime import date

from pactwatch.contracts import FRESH_DAYS, AgreementRecord, Freshness


def _parse(signed_on: str | None) -> date | None:
    if not signed_on:
        return None
    try:
        return (
            date.fromisoformat(signed_on)
            if len(signed_on) == 10
            else date(int(signed_on[:4]), 12, 31)
        )
    except ValueError:
        return None


def freshness(
    record: AgreementRecord, published: date | None, lookback_days: int
) -> Freshness | None:
    """``signed``/``earlier`` when the record may alert, None when it never may.

    Planned and cancelled agreements never alert; neither do multilateral ones nor ones with
    a party that is not a country. A past reference alerts (as ``earlier``) only when its
    signing date is known and within the look-back; "the Kars Treaty of 1921" never does.
    """
    if not record.bilateral or record.status in ("planned", "cancelled"):
        return None
    signed = _parse(record.signed_on)
    if record.status == "signed":
        if signed is None or published is None or (published - signed).days <= FRESH_DAYS:
            return "signed"
        return "earlier" if (published - signed).days <= lookback_days else None
    # past_reference: only a dated signing within the look-back
    if signed is None or len(record.signed_on or "") != 10:
        return None
    reference = published or signed
    return "earlier" if 0 <= (reference - signed).days <= lookback_days else None
