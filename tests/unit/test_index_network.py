"""The country network (``GET /network``) on both backends: pairs, counts by kind, filters
that mean what they mean for the registry listing, and a bounded answer."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from datetime import date
from typing import Any

import httpx
import pytest
from pactwatch_indexer.indexing import IndexMessage
from pactwatch_indexer.queries import AgreementQuery, NetworkQuery
from pactwatch_indexer.searchsyntax import QueryError
from pactwatch_indexer.store import IndexStore, open_store

from tests.unit.test_index_api import build_app
from tests.unit.test_index_store import (
    BACKENDS,
    KEY,
    backend_url,
    index,
    postgres_schema,
    record,
    sighted,
)

pytestmark = pytest.mark.anyio

CHARTER = "AZE-GEO-TUR:2023-01-10:charter"


def registry() -> list[IndexMessage]:
    return [
        sighted(KEY, record(), "a1", seen=0),
        sighted("AZE-TUR:2022:energy", record(title="energy roadmap", kind="roadmap",
                signed_on="2022", status="planned"), "a2", seen=1),
        sighted("KAZ-UZB:2021-03-01:water", record(parties=("KAZ", "UZB"), kind="memorandum",
                title="water", signed_on="2021-03-01"), "a3", seen=2),
        sighted("AZE-GEO:undated:rail", record(parties=("AZE", "GEO"), kind="agreement",
                title="rail", signed_on=None), "a4", seen=3),
        sighted("AZE-TUR:2021-06:trade", record(title="trade", kind="agreement",
                signed_on="2021-06", status="cancelled"), "a5", seen=4),
        sighted(CHARTER, record(parties=("AZE", "GEO", "TUR"), kind="charter",
                title="Caspian charter", signed_on="2023-01-10"), "a6", seen=5),
        # a company is no country: no edge, and KAZ's count does not take it
        sighted("KAZ-NONSTATE:gas", record(parties=(None, "KAZ"), kind="agreement",
                title="gas supply"), "a7", seen=6),
        # a second report of the same agreement is still one agreement
        sighted(KEY, record(), "a8", seen=7),
    ]  # fmt: skip


@pytest.fixture(scope="module")
def pg_schema() -> Iterator[str]:
    with postgres_schema() as name:
        yield name


@pytest.fixture(scope="module", params=BACKENDS)
async def store(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[IndexStore]:
    """One registry per backend for the whole module: these tests only read."""
    schema = request.getfixturevalue("pg_schema") if request.param == "postgresql" else None
    opened = open_store(backend_url(request.param, tmp_path_factory.mktemp("net"), schema))
    await opened.open()
    await index(opened, registry())
    yield opened
    await opened.close()


@pytest.fixture
async def client(store: IndexStore) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=build_app(store))
    async with httpx.AsyncClient(transport=transport, base_url="http://indexer") as http:
        yield http


def edges(network: Any) -> dict[str, int]:
    return {"-".join(e.parties): e.agreements for e in network.edges}


async def test_every_pair_of_parties_is_an_edge_counted_by_kind(store: IndexStore) -> None:
    network = await store.network(NetworkQuery.build())
    assert [("-".join(e.parties), e.agreements) for e in network.edges] == [
        ("AZE-TUR", 4),
        ("AZE-GEO", 2),
        ("GEO-TUR", 1),
        ("KAZ-UZB", 1),
    ]
    aze_tur = network.edges[0]
    assert aze_tur.kinds == {"agreement": 1, "charter": 1, "declaration": 1, "roadmap": 1}
    assert aze_tur.latest == date(2023, 1, 10)
    assert network.edges[3].kinds == {"memorandum": 1}
    assert network.edges[3].latest == date(2021, 3, 1)
    assert [(n.code, n.name, n.agreements) for n in network.nodes] == [
        ("AZE", "Azerbaijan", 5),
        ("GEO", "Georgia", 2),
        ("KAZ", "Kazakhstan", 1),
        ("TUR", "Türkiye", 4),
        ("UZB", "Uzbekistan", 1),
    ]
    assert network.pairs == 4
    assert network.truncated is False


FILTERS: list[dict[str, Any]] = [
    {"status": "signed"},
    {"parties": ["GEO"]},
    {"parties": ["tur", "AZE"]},
    {"kind": "agreement"},
    {"signed_from": date(2022, 1, 1)},
    {"signed_to": date(2021, 6, 30)},
    {"signed_from": date(2021, 6, 1), "signed_to": date(2021, 6, 30), "status": "signed"},
]


@pytest.mark.parametrize("filters", FILTERS)
async def test_an_edge_counts_what_the_listing_of_its_pair_lists(
    store: IndexStore, filters: dict[str, Any]
) -> None:
    network = await store.network(NetworkQuery.build(**filters))
    assert network.edges, "every case here has at least one edge"
    for edge in network.edges:
        listing = await store.agreements(
            AgreementQuery.build(
                **{**filters, "parties": [*edge.parties, *filters.get("parties", [])]}
            )
        )
        assert edge.agreements == len(listing.agreements), edge
        assert sum(edge.kinds.values()) == edge.agreements


@pytest.mark.parametrize(
    ("filters", "expected"),
    [
        ({"status": "signed"}, {"AZE-TUR": 2, "AZE-GEO": 2, "GEO-TUR": 1, "KAZ-UZB": 1}),
        ({"parties": ["GEO"]}, {"AZE-GEO": 2, "AZE-TUR": 1, "GEO-TUR": 1}),
        ({"kind": "charter"}, {"AZE-GEO": 1, "AZE-TUR": 1, "GEO-TUR": 1}),
        ({"signed_from": date(2022, 1, 1)}, {"AZE-TUR": 2, "AZE-GEO": 1, "GEO-TUR": 1}),
        ({"signed_to": date(2021, 3, 31)}, {"KAZ-UZB": 1}),
        ({"parties": ["UZB"], "kind": "treaty"}, {}),
    ],
)
async def test_filters_select_the_agreements_drawn(
    store: IndexStore, filters: dict[str, Any], expected: dict[str, int]
) -> None:
    assert edges(await store.network(NetworkQuery.build(**filters))) == expected


async def test_the_pairs_with_most_agreements_are_kept_when_there_are_too_many(
    store: IndexStore,
) -> None:
    network = await store.network(NetworkQuery.build(limit=2))
    assert edges(network) == {"AZE-TUR": 4, "AZE-GEO": 2}
    assert [n.code for n in network.nodes] == ["AZE", "GEO", "TUR"]
    assert network.pairs == 4
    assert network.truncated is True


@pytest.mark.parametrize(
    ("filters", "says"),
    [
        ({"limit": 0}, "limit: must be between 1 and 5000"),
        ({"kind": "pact"}, "kind: 'pact' is not one of"),
        ({"status": "rumoured"}, "status: 'rumoured' is not one of"),
        ({"parties": ["XYZ"]}, "party: 'XYZ' is not an ISO 3166-1"),
        ({"signed_from": date(2022, 1, 1), "signed_to": date(2021, 1, 1)}, "is after to"),
    ],
)
def test_a_bad_network_query_says_what_is_wrong(filters: dict[str, Any], says: str) -> None:
    with pytest.raises(QueryError, match=says):
        NetworkQuery.build(**filters)


async def test_the_api_answers_the_network(client: httpx.AsyncClient) -> None:
    answer = await client.get("/network", params={"from": "2022-01-01"})
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["edges"][0] == {
        "parties": ["AZE", "TUR"],
        "agreements": 2,
        "kinds": {"charter": 1, "roadmap": 1},
        "latest": "2023-01-10",
    }
    assert {n["code"] for n in body["nodes"]} == {"AZE", "GEO", "TUR"}
    assert body["pairs"] == 3
    assert body["truncated"] is False
    pair = await client.get("/network", params=[("party", "KAZ"), ("party", "uzb")])
    assert [e["parties"] for e in pair.json()["edges"]] == [["KAZ", "UZB"]]


@pytest.mark.parametrize(
    ("params", "says"),
    [
        ({"limit": 0}, "limit: Input should be greater than or equal to 1"),
        ({"limit": 5001}, "limit: Input should be less than or equal to 5000"),
        ({"kind": "pact"}, "kind: Input should be 'memorandum'"),
        ({"status": "rumoured"}, "status: Input should be 'signed'"),
        ({"party": "ZZZ"}, "party: 'ZZZ' is not an ISO 3166-1"),
        ({"from": "2022-01-01", "to": "2021-01-01"}, "from (2022-01-01) is after"),
        ({"from": "last year"}, "from: Input should be a valid date"),
    ],
)
async def test_a_bad_network_request_is_a_400(
    client: httpx.AsyncClient, params: dict[str, Any], says: str
) -> None:
    answer = await client.get("/network", params=params)
    assert answer.status_code == 400, answer.text
    assert says in answer.json()["error"]


async def test_the_openapi_schema_documents_the_network(client: httpx.AsyncClient) -> None:
    schema = (await client.get("/openapi.json")).json()
    operation = schema["paths"]["/network"]["get"]
    assert {p["name"] for p in operation["parameters"]} == {
        "party", "kind", "status", "from", "to", "limit"
    }  # fmt: skip
    assert "Network" in schema["components"]["schemas"]
