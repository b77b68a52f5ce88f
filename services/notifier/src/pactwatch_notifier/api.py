"""The notifier's HTTP API: webhook subscriptions (the alert stream router is pactwatch's)."""

from __future__ import annotations

from typing import Annotated

import structlog
from fastapi import APIRouter, HTTPException, Path, Query, Response

from pactwatch_notifier.subscriptions import SubscriptionStore
from pactwatch_notifier.webhooks import (
    AddressPolicy,
    SubscriptionCreated,
    SubscriptionDetail,
    SubscriptionIn,
    SubscriptionView,
    URLRefusedError,
)

log = structlog.get_logger()

SubscriptionId = Annotated[
    str, Path(pattern=r"^wh_[0-9a-f]{16}$", description="The id given at subscription.")
]


def build_router(
    store: SubscriptionStore, policy: AddressPolicy, max_subscriptions: int
) -> APIRouter:
    router = APIRouter(prefix="/subscriptions", tags=["webhooks"])

    @router.post(
        "",
        status_code=201,
        response_model=SubscriptionCreated,
        responses={
            409: {"description": "There are as many subscriptions as the notifier takes."},
            422: {"description": "Invalid filter, or a URL deliveries may not go to."},
        },
    )
    async def subscribe(request: SubscriptionIn) -> SubscriptionCreated:
        """Subscribe a webhook. The answer holds the signing secret, shown this once."""
        if await store.count() >= max_subscriptions:
            raise HTTPException(
                409,
                f"{max_subscriptions} subscriptions already (PACTWATCH_WEBHOOK_MAX_SUBSCRIPTIONS)",
            )
        try:
            await policy.check(request.url)
        except URLRefusedError as exc:
            raise HTTPException(422, f"url: {exc}") from None
        subscription = await store.create(request)
        log.info(
            "subscription.created",
            subscription_id=subscription.id,
            url=subscription.url,
            filter=subscription.filter.describe(),
        )
        return SubscriptionCreated(
            **SubscriptionView.of(subscription).model_dump(), secret=subscription.secret
        )

    @router.get("", response_model=list[SubscriptionView])
    async def list_subscriptions() -> list[SubscriptionView]:
        """Every subscription, oldest first (without secrets)."""
        return [SubscriptionView.of(s) for s in await store.all()]

    @router.get(
        "/{subscription_id}",
        response_model=SubscriptionDetail,
        responses={404: {"description": "No such subscription."}},
    )
    async def show_subscription(
        subscription_id: SubscriptionId,
        limit: Annotated[int, Query(ge=1, le=1000, description="Log entries to return.")] = 100,
    ) -> SubscriptionDetail:
        """A subscription with its counters, recent delivery attempts and dead deliveries."""
        detail = await store.detail(subscription_id, limit)
        if detail is None:
            raise HTTPException(404, f"no subscription {subscription_id}")
        return detail

    @router.delete(
        "/{subscription_id}",
        status_code=204,
        responses={404: {"description": "No such subscription."}},
    )
    async def unsubscribe(subscription_id: SubscriptionId) -> Response:
        """Remove a subscription; deliveries still queued for it are dropped."""
        if not await store.remove(subscription_id):
            raise HTTPException(404, f"no subscription {subscription_id}")
        log.info("subscription.removed", subscription_id=subscription_id)
        return Response(status_code=204)

    return router
