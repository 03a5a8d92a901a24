import collections
import random
from datetime import timedelta
from itertools import islice

from loadtests import poc_corpus
from platform_api.kernel.text import normalize_tags
from platform_api.pocs.schemas import PocIn
from platform_api.search.index import edit_distance


def test_same_seed_same_corpus() -> None:
    first = list(poc_corpus.pocs(300, seed=3))

    assert first == list(poc_corpus.pocs(300, seed=3))
    assert first != list(poc_corpus.pocs(300, seed=4))
    assert len({p.name for p in first}) > 250


def test_distributions_look_like_a_product_team() -> None:
    corpus = list(poc_corpus.pocs(6000, seed=11))

    languages = collections.Counter(p.language for p in corpus)
    assert languages.most_common(2)[0][0] == "Python"
    assert 0.2 < languages["Python"] / len(corpus) < 0.36
    assert 0.02 < languages[None] / len(corpus) < 0.07
    assert len(languages) > 15  # a long tail, not five languages

    sizes = collections.Counter(len(p.tags) for p in corpus)
    assert set(sizes) == {1, 2, 3, 4, 5, 6}
    assert sizes.most_common(1)[0][0] in (2, 3)
    tags = collections.Counter(t for p in corpus for t in p.tags)
    counts = sorted(tags.values(), reverse=True)
    assert len(tags) > 250
    assert counts[0] > 20 * counts[len(counts) // 2]  # a Zipf head over a long tail

    portuguese = sum(p.description.startswith("Objetivo:") for p in corpus) / len(corpus)
    assert 0.15 < portuguese < 0.25
    statuses = collections.Counter(p.status for p in corpus)
    assert set(statuses) == set(poc_corpus.STATUSES)
    year = timedelta(days=365)
    recent = sum(p.created_at > poc_corpus.START + 2 * year for p in corpus)
    early = sum(p.created_at < poc_corpus.START + year for p in corpus)
    assert recent > 1.5 * early
    assert all(p.updated_at >= p.created_at for p in corpus)


def test_bodies_are_valid_poc_api_input() -> None:
    for poc in poc_corpus.pocs(2000, seed=5):
        body = poc.body(suffix="abcdefghijkl")
        parsed = PocIn.model_validate(body)
        assert parsed.name.endswith(" abcdefghijkl")
        assert list(poc.tags) == normalize_tags(list(poc.tags))
        assert parsed.language == poc.language


def test_tenant_documents_are_deterministic_and_owned_by_members() -> None:
    tenant, other = poc_corpus.tenants(2, seed=1)
    docs = list(poc_corpus.documents(tenant, 200, seed=1))

    assert [d.poc_id for d in docs] == [d.poc_id for d in poc_corpus.documents(tenant, 200, seed=1)]
    assert {d.tenant_id for d in docs} == {tenant.tenant_id}
    assert {d.owner_id for d in docs} <= set(tenant.members)
    assert not {d.poc_id for d in docs} & {
        d.poc_id for d in poc_corpus.documents(other, 200, seed=1)
    }


def test_queries_come_from_the_vocabulary() -> None:
    rng = random.Random(9)
    words = set(poc_corpus.QUERY_WORDS)

    typical = [poc_corpus.typical_query(rng) for _ in range(300)]
    assert all(q in words or set(q.split()) <= words for q in typical)
    assert any(" " in q for q in typical)
    for word in islice((w for w in poc_corpus.QUERY_WORDS if len(w) >= 5), 100):
        slipped = poc_corpus.typo(word, rng)
        assert slipped != word
        assert edit_distance(slipped, word, 2) == 1
    assert all(len(poc_corpus.prefix_query(rng)) >= 2 for _ in range(100))
