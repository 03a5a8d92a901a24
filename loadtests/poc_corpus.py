"""A deterministic generator of realistic POCs (names, descriptions, languages, tags, dates).

What it models, so that index statistics look like a real tenant's rather than a toy's:

- names and descriptions built from ~170 technologies and frameworks, ~50 verbs and ~80 business
  or technical domains, about one POC in five written in Brazilian Portuguese;
- languages skewed the way a product team's are (Python and TypeScript make almost half), ~4% none;
- 1-6 tags (2-3 most often) out of ~370, drawn Zipf-like (rank ``r`` weighs ``1/r``), plus the
  main technology's own tag most of the time;
- frameworks that belong to the language, statuses, visibility, start/finish days and creation
  times that grow denser towards the present.

The same ``seed`` always yields the same corpus (``random.Random`` only, no global state), and
the query helpers draw searches from the same vocabularies (typical words, typos, filters).
"""

from __future__ import annotations

import bisect
import itertools
import random
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from platform_api.search.index import PocDocument

# --- vocabularies -----------------------------------------------------------------------------

# Language, weight (share of POCs), and frameworks/libraries typical of it.
LANGUAGES: dict[str, tuple[float, tuple[str, ...]]] = {
    "Python": (28, ("FastAPI", "Django", "Flask", "Pandas", "PyTorch", "scikit-learn", "Celery",
                    "Polars", "LangChain", "Airflow", "Streamlit", "SQLAlchemy", "pydantic")),
    "TypeScript": (20, ("React", "Next.js", "NestJS", "Vue", "Angular", "Svelte", "Express",
                        "Prisma", "tRPC", "Playwright", "Vite", "Deno")),
    "JavaScript": (8, ("React", "Node.js", "Express", "Vue", "jQuery", "Electron", "D3.js")),
    "Go": (9, ("Gin", "Echo", "gRPC", "Cobra", "Fiber", "sqlc", "NATS")),
    "Java": (7, ("Spring Boot", "Quarkus", "Micronaut", "Hibernate", "Kafka Streams", "Flink")),
    "Rust": (5, ("Tokio", "Axum", "Actix", "Serde", "Tauri", "Bevy", "Polars")),
    "Kotlin": (4, ("Ktor", "Spring Boot", "Jetpack Compose", "Exposed", "Coroutines")),
    "C#": (3, (".NET", "ASP.NET Core", "Blazor", "Entity Framework", "Unity", "MAUI")),
    "Ruby": (2.5, ("Rails", "Sidekiq", "Sinatra", "Hanami")),
    "PHP": (2.5, ("Laravel", "Symfony", "WordPress")),
    "Swift": (1.5, ("SwiftUI", "Vapor", "Combine")),
    "Dart": (1.5, ("Flutter", "Riverpod")),
    "Elixir": (1.2, ("Phoenix", "LiveView", "Ecto", "Broadway")),
    "Scala": (1, ("Spark", "Akka", "ZIO", "Play")),
    "C++": (1, ("Qt", "Boost", "gRPC", "CUDA")),
    "Shell": (1, ("Bash", "Ansible")),
    "SQL": (1, ("dbt", "PostgreSQL", "DuckDB")),
    "Terraform": (1, ("AWS", "Terragrunt", "Kubernetes")),
    "Haskell": (0.3, ("Servant", "Yesod")),
    "Clojure": (0.3, ("Ring", "Datomic")),
    "Zig": (0.2, ("Bun",)),
    "OCaml": (0.2, ("Dune", "Lwt")),
}  # fmt: skip
NO_LANGUAGE = 0.04

# Technologies named in POC titles, beyond the frameworks above: data stores, platforms, tools.
TECHNOLOGIES = (
    "PostgreSQL", "Redis", "Kafka", "RabbitMQ", "Elasticsearch", "OpenSearch", "MongoDB",
    "Cassandra", "ClickHouse", "DuckDB", "SQLite", "DynamoDB", "BigQuery", "Snowflake",
    "Kubernetes", "Docker", "Helm", "ArgoCD", "Terraform", "Pulumi", "Lambda", "ECS", "S3",
    "CloudFront", "SQS", "SNS", "Step Functions", "GraphQL", "gRPC", "WebSockets", "WebRTC",
    "OpenTelemetry", "Prometheus", "Grafana", "Jaeger", "Sentry", "Datadog", "Keycloak",
    "OAuth2", "Stripe", "Pix", "WhatsApp", "Twilio", "OpenAI", "Llama", "Whisper", "pgvector",
    "Qdrant", "Temporal", "Debezium", "Airbyte", "MinIO", "Nginx", "Envoy", "Istio", "Vault",
    "GitHub Actions", "Tailwind", "Storybook", "Yjs", "CRDT", "WebAssembly", "Wasm", "Tantivy",
    "Meilisearch", "Typesense", "Supabase", "Firebase", "Cloudflare Workers", "Fly.io", "NATS",
    "MQTT", "Arduino", "Raspberry Pi", "Ollama", "Hugging Face", "Spark", "Flink", "Iceberg",
)  # fmt: skip

VERBS_EN = (
    "Build", "Prototype", "Evaluate", "Benchmark", "Migrate", "Explore", "Compare", "Integrate",
    "Spike", "Try", "Automate", "Replace", "Speed up", "Harden", "Validate", "Rewrite", "Embed",
    "Scale", "Monitor", "Cache", "Stream", "Index", "Secure", "Simplify", "Containerize",
    "Deploy", "Measure", "Load-test", "Design", "Refactor", "Test-drive", "Ship",
)  # fmt: skip
VERBS_PT = (
    "Avaliar", "Prototipar", "Migrar", "Integrar", "Testar", "Explorar", "Comparar", "Construir",
    "Automatizar", "Substituir", "Acelerar", "Validar", "Reescrever", "Monitorar", "Escalar",
    "Implantar", "Medir", "Simplificar", "Desenhar", "Refatorar",
)  # fmt: skip
DOMAINS_EN = (
    "payment reconciliation", "fraud detection", "invoice OCR", "support chatbot",
    "recommendation engine", "log aggregation", "feature flags", "rate limiter",
    "search autocomplete", "real-time dashboard", "event sourcing", "audit trail",
    "multi-tenant billing", "document signing", "image thumbnails", "video transcoding",
    "push notifications", "email delivery", "SSO login", "password reset flow", "data lake",
    "ETL pipeline", "change data capture", "A/B testing", "customer churn model",
    "demand forecasting", "inventory sync", "shipping quotes", "price alerts",
    "semantic search", "RAG assistant", "meeting transcription", "code review bot",
    "on-call scheduler", "incident timeline", "SLO tracking", "blue-green deploys",
    "canary releases", "secrets rotation", "GDPR export", "offline-first mobile app",
    "collaborative editor", "kanban board", "time tracking", "expense reports", "CRM sync",
    "loyalty points", "geofencing", "route optimisation", "IoT telemetry", "edge caching",
    "PDF reports", "spreadsheet import", "webhook relay", "API gateway", "schema registry",
)  # fmt: skip
DOMAINS_PT = (
    "conciliação de pagamentos", "emissão de notas fiscais", "detecção de fraude",
    "cobrança via Pix", "atendimento por WhatsApp", "análise de crédito", "boletos bancários",
    "cadastro de clientes", "painel de vendas", "controle de estoque", "folha de pagamento",
    "agendamento de consultas", "rastreamento de entregas", "previsão de demanda",
    "busca de produtos", "relatórios gerenciais", "assinatura digital", "open finance",
    "prontuário eletrônico", "gestão de frotas", "programa de fidelidade", "recomendação de produtos",
    "monitoramento de logs", "cotação de fretes",
)  # fmt: skip
GOALS_EN = (
    "cut p99 latency below 100 ms", "handle 10k requests per second", "remove a nightly batch job",
    "reduce the cloud bill", "replace a legacy service", "see if it fits our stack",
    "unblock the mobile team", "prove the idea to the board", "support 50 tenants",
    "keep data in sa-east-1", "let support answer faster", "avoid vendor lock-in",
)  # fmt: skip
GOALS_PT = (
    "reduzir a latência", "diminuir o custo de infraestrutura", "substituir o sistema legado",
    "atender mais clientes", "validar a ideia com o time", "automatizar um processo manual",
    "melhorar a experiência do cliente", "cumprir a LGPD",
)  # fmt: skip
OUTCOMES = (
    "Works, but needs more tests.", "Faster than the current setup.", "Too slow at scale.",
    "Promising; next step is a pilot.", "Dropped: licensing costs.", "Funciona bem em produção.",
    "Resultado abaixo do esperado.", "Needs a second opinion on security.", "",
)  # fmt: skip

# Topic tags (ordered roughly by popularity: the Zipf ranks follow this order, interleaved
# with the technology tags below).
TOPIC_TAGS = (
    "api", "backend", "frontend", "data", "ml", "devops", "infra", "security", "performance",
    "web", "mobile", "cloud", "aws", "database", "observability", "llm", "ai", "testing",
    "automation", "microservices", "serverless", "realtime", "search", "analytics", "etl",
    "streaming", "cli", "ui", "ux", "auth", "payments", "billing", "fintech", "ecommerce",
    "saas", "multi-tenant", "cache", "queue", "events", "monitoring", "logging", "tracing",
    "ci-cd", "kubernetes", "containers", "iac", "cost", "compliance", "lgpd", "gdpr",
    "accessibility", "i18n", "pwa", "offline", "sync", "crdt", "collaboration", "chat",
    "notifications", "email", "sms", "video", "audio", "images", "pdf", "ocr", "nlp",
    "embeddings", "vector-search", "rag", "agents", "forecasting", "recommendation",
    "fraud", "risk", "iot", "edge", "embedded", "hardware", "game", "3d", "maps", "geo",
    "scheduling", "workflow", "integration", "webhooks", "graphql", "grpc", "rest",
    "websocket", "migration", "legacy", "refactoring", "spike", "hackathon", "research",
    "benchmark", "load-test", "prototype", "internal-tool", "dashboard", "reporting",
    "admin", "onboarding", "growth", "experiment", "a-b-testing", "feature-flags",
    "pagamentos", "fiscal", "nota-fiscal", "pix", "boleto", "open-finance", "credito",
    "varejo", "logistica", "saude", "educacao", "agro", "seguros", "rh", "atendimento",
    "whatsapp", "marketplace", "crm", "erp", "dados", "relatorios", "estoque", "vendas",
    "low-code", "no-code", "open-source", "wasm", "rust-rewrite", "green-it", "devex",
    "sre", "incident", "slo", "chaos", "backup", "dr", "encryption", "secrets", "sso",
    "oauth", "rbac", "audit", "privacy", "data-quality", "data-mesh", "lakehouse", "bi",
    "notebooks", "mlops", "fine-tuning", "computer-vision", "speech", "translation",
    "summarization", "classification", "anomaly-detection", "time-series", "graph",
    "optimization", "simulation", "scraping", "crawler", "bot", "slack", "teams", "jira",
    "github", "gitlab", "docs", "design-system", "storybook", "components", "animation",
    "charts", "forms", "tables", "calendar", "uploads", "downloads", "i18n-ptbr",
)  # fmt: skip

TYPOS = (
    "pyhton", "reactt", "kafak", "postgers", "kubernets", "dashbord", "serach", "fraudd",
    "pagamnto", "graphq", "djnago", "typscript", "elasticsaerch", "tenat", "strem", "redsi",
    "notificaton", "invocie", "chatbto", "logistca",
)  # fmt: skip
STATUSES = {"idea": 30, "in_progress": 30, "done": 28, "abandoned": 12}
TAG_COUNTS = {1: 18, 2: 30, 3: 25, 4: 14, 5: 8, 6: 5}
PT_SHARE = 0.2
START = datetime(2023, 1, 1, tzinfo=UTC)
SPAN = timedelta(days=3 * 365)


def _slug(name: str) -> str:
    return "-".join(name.lower().replace("/", " ").split())


def _unique(values: Sequence[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(values))


# Technology tags: every framework and technology as a tag ("spring-boot", "next.js", ...).
TECH_TAGS = _unique(
    [_slug(t) for t in TECHNOLOGIES]
    + [_slug(f) for _, fws in LANGUAGES.values() for f in fws]
    + [_slug(lang) for lang in LANGUAGES]
)
# Zipf ranks: topic and technology tags interleaved (so both kinds have popular heads).
TAGS = _unique(
    [t for pair in itertools.zip_longest(TOPIC_TAGS, TECH_TAGS) for t in pair if t is not None]
)
# Words a user types into the search box, most popular first (Zipf ranks): technologies and
# languages interleaved with the words of the domains (English and Portuguese).
_DOMAIN_WORDS = _unique(
    [w for d in DOMAINS_EN + DOMAINS_PT for w in d.lower().split() if len(w) > 3 and "/" not in w]
)
_TECH_WORDS = _unique(
    [t.lower() for t in TECHNOLOGIES]
    + [lang.lower() for lang in LANGUAGES]
    + [f.lower() for _, fws in LANGUAGES.values() for f in fws]
)
QUERY_WORDS = _unique(
    [w for pair in itertools.zip_longest(_TECH_WORDS, _DOMAIN_WORDS) for w in pair if w]
)


class Weighted:
    """Draws from fixed values with fixed weights (cumulative table + bisect)."""

    def __init__(self, values: Sequence[Any], weights: Sequence[float]) -> None:
        self.values = list(values)
        self.cumulative = list(itertools.accumulate(weights))

    def __call__(self, rng: random.Random) -> Any:
        return self.values[bisect.bisect(self.cumulative, rng.random() * self.cumulative[-1])]


def zipf(values: Sequence[Any], exponent: float = 1.0) -> Weighted:
    """Rank ``r`` (from 1) weighs ``1 / r**exponent``."""
    return Weighted(values, [1 / (rank**exponent) for rank in range(1, len(values) + 1)])


_LANGUAGE = Weighted(list(LANGUAGES), [w for w, _ in LANGUAGES.values()])
_STATUS = Weighted(list(STATUSES), list(STATUSES.values()))
_TAG_COUNT = Weighted(list(TAG_COUNTS), list(TAG_COUNTS.values()))
_TAG = zipf(TAGS)
_QUERY_WORD = zipf(QUERY_WORDS)


@dataclass(frozen=True, slots=True)
class Poc:
    """One generated POC, in the shape of the POC API's create body plus its timestamps."""

    name: str
    description: str
    language: str | None
    frameworks: tuple[str, ...]
    tags: tuple[str, ...]
    status: str
    visibility: str
    started_on: date | None
    finished_on: date | None
    created_at: datetime
    updated_at: datetime

    def body(self, *, suffix: str = "") -> dict[str, Any]:
        """The JSON body of ``POST /api/pocs/pocs`` (``suffix`` is appended to the name)."""
        name = f"{self.name[: 99 - len(suffix)]} {suffix}" if suffix else self.name
        out: dict[str, Any] = {
            "name": name,
            "description": self.description,
            "language": self.language,
            "frameworks": list(self.frameworks),
            "tags": list(self.tags),
            "status": self.status,
            "visibility": self.visibility,
        }
        if self.started_on:
            out["started_on"] = self.started_on.isoformat()
        if self.finished_on:
            out["finished_on"] = self.finished_on.isoformat()
        return out

    def document(self, tenant_id: uuid.UUID, poc_id: uuid.UUID, owner_id: uuid.UUID) -> PocDocument:
        """What the search index holds for this POC."""
        return PocDocument(
            tenant_id=tenant_id,
            poc_id=poc_id,
            owner_id=owner_id,
            name=self.name,
            description=self.description,
            language=self.language,
            tags=self.tags,
            frameworks=self.frameworks,
            status=self.status,
            visibility=self.visibility,
            repository_url=None,
            created_at=self.created_at,
            updated_at=self.updated_at,
            version=1,
        )


def generate(rng: random.Random) -> Poc:
    """One POC drawn from ``rng``."""
    language = None if rng.random() < NO_LANGUAGE else _LANGUAGE(rng)
    frameworks = LANGUAGES[language][1] if language else ()
    picked = tuple(rng.sample(frameworks, min(len(frameworks), rng.choice((0, 1, 1, 2, 3)))))
    tech = picked[0] if picked and rng.random() < 0.6 else rng.choice(TECHNOLOGIES)
    pt = rng.random() < PT_SHARE
    domain = rng.choice(DOMAINS_PT if pt else DOMAINS_EN)
    verb = rng.choice(VERBS_PT if pt else VERBS_EN)
    name = rng.choice(
        (f"{verb} {domain} com {tech}", f"{domain.capitalize()} com {tech}", f"{verb} {tech}")
        if pt
        else (
            f"{verb} {domain} with {tech}",
            f"{tech} for {domain}",
            f"{domain.capitalize()} on {tech}",
            f"{verb} {tech}",
        )
    )
    goal = rng.choice(GOALS_PT if pt else GOALS_EN)
    sentences = [
        f"Objetivo: {goal} usando {tech}." if pt else f"Goal: {goal} using {tech}.",
        (
            f"Escopo: {domain}, {rng.choice(DOMAINS_PT)}."
            if pt
            else f"Scope: {domain}; touches {rng.choice(DOMAINS_EN)} and {rng.choice(TECHNOLOGIES)}."
        ),
        rng.choice(OUTCOMES),
    ]
    description = " ".join(s for s in sentences[: rng.randint(1, 3)] if s)
    count = _TAG_COUNT(rng)
    tags = [_slug(tech)] if rng.random() < 0.7 else []
    while len(tags) < count:
        tag = _TAG(rng)
        if tag not in tags:
            tags.append(tag)
    status = _STATUS(rng)
    # Denser towards the present: the square root of a uniform draw leans to 1.
    created = START + SPAN * (rng.random() ** 0.5)
    updated = created + timedelta(seconds=rng.expovariate(1 / (14 * 86400)))
    started = created.date() if status != "idea" else None
    finished = (
        started + timedelta(days=rng.randint(1, 90))
        if started and status in ("done", "abandoned")
        else None
    )
    return Poc(
        name=name[:100],
        description=description,
        language=language,
        frameworks=picked,
        tags=tuple(tags),
        status=status,
        visibility="private" if rng.random() < 0.15 else "tenant",
        started_on=started,
        finished_on=finished,
        created_at=created,
        updated_at=updated,
    )


def pocs(count: int, *, seed: int) -> Iterator[Poc]:
    """``count`` POCs, the same ones for the same seed."""
    rng = random.Random(seed)
    for _ in range(count):
        yield generate(rng)


def seeded_uuid(rng: random.Random) -> uuid.UUID:
    return uuid.UUID(int=rng.getrandbits(128), version=4)


@dataclass(frozen=True)
class Tenant:
    """A generated organisation: its id and its members (owners of POCs)."""

    tenant_id: uuid.UUID
    members: tuple[uuid.UUID, ...]


def tenants(count: int, *, seed: int, members: int = 40) -> list[Tenant]:
    rng = random.Random(f"tenants-{seed}")
    return [
        Tenant(seeded_uuid(rng), tuple(seeded_uuid(rng) for _ in range(members)))
        for _ in range(count)
    ]


def documents(tenant: Tenant, count: int, *, seed: int) -> Iterator[PocDocument]:
    """The tenant's ``count`` POCs as index documents (owners Zipf-skewed among members)."""
    rng = random.Random(f"{tenant.tenant_id}-{seed}")
    owner = zipf(tenant.members, 0.8)
    for poc in pocs(count, seed=rng.getrandbits(64)):
        yield poc.document(tenant.tenant_id, seeded_uuid(rng), owner(rng))


# --- queries ----------------------------------------------------------------------------------


def typical_query(rng: random.Random) -> str:
    """One or two words as people type them (popular words more often)."""
    first = str(_QUERY_WORD(rng))
    if " " not in first and rng.random() < 0.35:
        second = str(_QUERY_WORD(rng))
        if " " not in second and second != first:
            return f"{first} {second}"
    return first


def typo(word: str, rng: random.Random) -> str:
    """``word`` with one slip: two letters swapped, one doubled, or one dropped."""
    if len(word) < 4:
        return word
    i = rng.randrange(1, len(word) - 1)
    kind = rng.randrange(3)
    if kind == 0 and word[i] != word[i + 1]:
        return word[:i] + word[i + 1] + word[i] + word[i + 2 :]
    if kind < 2:
        return word[: i + 1] + word[i] + word[i + 1 :]
    return word[:i] + word[i + 1 :]


def typo_query(rng: random.Random) -> str:
    """A known misspelling half the time, else a popular one-word query with a slip."""
    if rng.random() < 0.5:
        return rng.choice(TYPOS)
    word = _QUERY_WORD(rng).split()[0]
    while len(word) < 5:
        word = _QUERY_WORD(rng).split()[0]
    return typo(word, rng)


def language_filter(rng: random.Random) -> str:
    return str(_LANGUAGE(rng))


def tag_filter(rng: random.Random) -> str:
    return str(_TAG(rng))


def prefix_query(rng: random.Random) -> str:
    """What someone has typed so far: the first 2-5 letters of a popular word."""
    word = _QUERY_WORD(rng)
    return word[: rng.randint(2, min(5, len(word)))]
