"""How fast the storefront renders with 10,000 published listings on PostgreSQL: the catalogue, a search, a filtered
and sorted page and a model page, against a page that renders the base template with no queries, measured in the
same run (in-process, Django's test client, a scratch database, Redis database 8 for the page cache).

Each page is timed as most requests find it (repeated: the catalogue's body comes from the page cache while no
listing changes) and cold (the first render after a change; its queries are max_queries).

Last line: catalogue_vs_base=R search_vs_base=R filtered_vs_base=R model_vs_base=R <page>_cold_vs_base=R...
max_queries=N"""

import os
import random
import statistics
import subprocess
import sys
import time
import types
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LISTINGS = int(os.environ.get("BENCH_PAGES_LISTINGS", 10_000))
REQUESTS = int(os.environ.get("BENCH_PAGES_REQUESTS", 100))
DATABASE = "gptstore_bench_pages"
WORDS = [
    "poetry",
    "verse",
    "code",
    "python",
    "sql",
    "chat",
    "story",
    "translate",
    "summarise",
    "legal",
    "medical",
    "tiny",
    "small",
    "fast",
    "cheap",
    "tutor",
    "math",
    "science",
    "history",
    "recipe",
    "music",
    "lyrics",
    "haiku",
    "json",
    "regex",
    "shell",
    "test",
    "review",
    "email",
    "support",
    "french",
    "german",
    "spanish",
]


def base_urls() -> types.ModuleType:
    """The store's URLs plus /bench/base: the base template, no queries (the run's baseline)."""
    from django.shortcuts import render
    from django.urls import include, path

    module = types.ModuleType("bench_pages_urls")
    module.urlpatterns = [
        path("bench/base", lambda request: render(request, "base.html")),
        path("", include("config.urls")),
    ]  # type: ignore[attr-defined]
    return module


def seed(owner, count: int):
    """`count` published listings with prices, tags, cards and measured figures; the last has a real commit."""
    from django.utils import timezone

    from marketplace.models import Category, Listing, ListingStats, PriceCard
    from marketplace.services import listing_stats
    from registry.models import Model

    rng = random.Random(0)
    categories = list(Category.values)
    models = Model.objects.bulk_create([Model(owner=owner, name=f"model-{n}") for n in range(count)])
    listings = Listing.objects.bulk_create([
        Listing(model=model, title=f"{rng.choice(WORDS).title()} {rng.choice(WORDS)} {n}",
                summary=" ".join(rng.choices(WORDS, k=8)), category=rng.choice(categories),
                tags=sorted(set(rng.choices(WORDS, k=3))), license=rng.choice(["mit", "apache-2.0", "other"]),
                is_downloadable=rng.random() < 0.5, status="published", published_at=timezone.now())
        for n, model in enumerate(models)
    ])  # fmt: skip
    cards = PriceCard.objects.bulk_create([
        PriceCard(listing=listing, prompt_price=rng.randrange(0, 20) * 500_000,
                  completion_price=rng.randrange(0, 40) * 500_000)
        for listing in listings
    ])  # fmt: skip
    for listing, card in zip(listings, cards, strict=True):
        listing.price_card = card
    Listing.objects.bulk_update(listings, ["price_card"], batch_size=1000)
    ListingStats.objects.bulk_create([
        ListingStats(listing=listing, parameters=rng.choice([1, 5, 50, 124, 350, 1500]) * 1_000_000,
                     context_length=rng.choice([256, 1024, 2048]), architecture="GPT2LMHeadModel",
                     tags_text=f" {' '.join(listing.tags)} ", card_text=" ".join(rng.choices(WORDS, k=120)),
                     calls_7d=rng.randrange(0, 500), calls_30d=rng.randrange(0, 2000),
                     tokens_per_second=rng.uniform(5, 400))
        for listing in listings
    ], batch_size=1000)  # fmt: skip
    listing_stats.update_search_vectors()
    return models[-1]


def cold(client, url: str) -> tuple[float, int]:
    """The first render after a change (the page cache dropped): milliseconds and queries."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from registry import page_cache

    times, counts = [], []
    for _ in range(max(5, REQUESTS // 5)):
        page_cache.changed()
        with CaptureQueriesContext(connection) as captured:
            started = time.perf_counter()
            assert client.get(url).status_code == 200, url
            times.append(time.perf_counter() - started)
        counts.append(len(captured))
    return statistics.median(times) * 1000, max(counts)


def timed(client, url: str) -> tuple[float, int]:
    """Repeated requests (what most visitors get: the cached page while nothing changed): p50 ms and queries."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    for _ in range(5):
        assert client.get(url).status_code == 200, url
    seconds = []
    for _ in range(REQUESTS):
        started = time.perf_counter()
        client.get(url)
        seconds.append(time.perf_counter() - started)
    with CaptureQueriesContext(connection) as captured:
        client.get(url)
    return statistics.median(seconds) * 1000, len(captured)


def main() -> None:
    sys.path.insert(0, str(ROOT))
    psql = ["psql", "-h", "127.0.0.1", "-U", "postgres", "-qc"]
    subprocess.run([*psql, f"DROP DATABASE IF EXISTS {DATABASE}"], check=True)
    subprocess.run([*psql, f"CREATE DATABASE {DATABASE}"], check=True)
    os.environ.update(
        DJANGO_SETTINGS_MODULE="config.settings", DATABASE_URL=f"postgres://postgres@127.0.0.1:5432/{DATABASE}",
        REDIS_URL="redis://127.0.0.1:6379/8", LOG_LEVEL="WARNING", ALLOWED_HOSTS="testserver", HTTPS="0",
    )  # fmt: skip
    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command
    from django.db import connection
    from django.test import Client

    from accounts import services as accounts
    from marketplace.services import listing_stats
    from registry import services as registry
    from registry.models import Commit, ValidationStatus

    sys.modules["bench_pages_urls"] = base_urls()
    settings.ROOT_URLCONF = "bench_pages_urls"
    call_command("migrate", verbosity=0)
    owner = accounts.create_user(username="provider", password="bench-password-1")
    started = time.perf_counter()
    last = seed(owner, LISTINGS)
    commit = registry.commit_card(model_id=last.pk, author=owner, content="# Bench\n\n" + "A model card. " * 200)
    Commit.objects.filter(pk=commit.pk).update(validation_status=ValidationStatus.VALID,
                                               validation_report={"parameters": 1, "context_length": 256})  # fmt: skip
    listing_stats.refresh_listing(last.listing)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    print(f"seeded {LISTINGS:,} listings in {time.perf_counter() - started:.0f} s")

    client = Client()
    pages = {
        "base": "/bench/base",
        "catalogue": "/models",
        "search": "/models?q=poetry+python",
        "filtered": "/models?category=code&params=100m-1b&max_price=5&tag=python&sort=cheapest",
        "model": f"/provider/{last.name}",
    }
    results = {name: timed(client, url) for name, url in pages.items()}
    colds = {name: cold(client, url) for name, url in pages.items() if name != "base"}
    for name, (ms, queries) in results.items():
        extra = f"  cold p50 {colds[name][0]:7.2f} ms  {colds[name][1]} queries" if name in colds else ""
        print(f"{name:10s} p50 {ms:7.2f} ms  {queries} queries{extra}  {pages[name]}")
    base = results["base"][0]
    ratios = " ".join(f"{name}_vs_base={results[name][0] / base:.2f}" for name in pages if name != "base")
    cold_ratios = " ".join(f"{name}_cold_vs_base={colds[name][0] / base:.1f}" for name in colds)
    print(f"{ratios} {cold_ratios} max_queries={max(queries for _, queries in colds.values())}")


if __name__ == "__main__":
    main()
