"""Demo POCs of the local stack: a dozen for tenant "Mr Bill", a few for "Acme Labs"."""

from __future__ import annotations

from typing import Any

GH = "https://github.com/mrbill-demo"

DEMO_POCS: dict[str, list[dict[str, Any]]] = {
    "bill@mrbill.dev": [
        {"name": "FastAPI multi-tenant starter", "language": "Python",
         "frameworks": ["FastAPI", "SQLAlchemy"], "tags": ["api", "multi-tenant", "rls"],
         "status": "done", "repository_url": f"{GH}/fastapi-tenants",
         "description": "Row-level security per tenant with **PostgreSQL** `set_config`.",
         "started_on": "2025-01-06", "finished_on": "2025-02-14"},
        {"name": "Tantivy typo-tolerant search", "language": "Python",
         "frameworks": ["tantivy"], "tags": ["search", "fuzzy"], "status": "done",
         "description": "Fuzzy queries: *pyhton* still finds Python."},
        {"name": "Realtime Yjs code editor", "language": "TypeScript",
         "frameworks": ["React", "CodeMirror", "Yjs"], "tags": ["crdt", "realtime", "editor"],
         "status": "in_progress", "repository_url": f"{GH}/yjs-editor",
         "started_on": "2025-03-01"},
        {"name": "React dashboard with charts", "language": "TypeScript",
         "frameworks": ["React", "Vite"], "tags": ["frontend", "charts"], "status": "done"},
        {"name": "gRPC gateway for legacy SOAP", "language": "Go",
         "frameworks": ["gRPC"], "tags": ["api", "legacy"], "status": "abandoned",
         "description": "Abandoned: the SOAP service was retired first."},
        {"name": "Rate limiter with Redis", "language": "Go", "frameworks": ["go-redis"],
         "tags": ["redis", "rate-limit"], "status": "done"},
        {"name": "Rust WebAssembly image filters", "language": "Rust",
         "frameworks": ["wasm-bindgen"], "tags": ["wasm", "images"], "status": "idea",
         "visibility": "private"},
    ],
    "ana@mrbill.dev": [
        {"name": "Kafka consumer with Spring Boot", "language": "Java",
         "frameworks": ["Spring Boot", "Kafka"], "tags": ["streaming", "kafka"],
         "status": "done", "repository_url": f"{GH}/kafka-spring"},
        {"name": "Quarkus native image experiment", "language": "Java",
         "frameworks": ["Quarkus", "GraalVM"], "tags": ["native", "startup-time"],
         "status": "in_progress"},
        {"name": "Rust CLI for log parsing", "language": "Rust", "frameworks": ["clap"],
         "tags": ["cli", "logs"], "status": "done"},
        {"name": "Django admin customisations", "language": "Python",
         "frameworks": ["Django"], "tags": ["admin", "web"], "status": "done"},
        {"name": "Next.js edge rendering", "language": "TypeScript",
         "frameworks": ["Next.js"], "tags": ["ssr", "edge"], "status": "idea",
         "visibility": "private"},
    ],
    "wile@acme.dev": [
        {"name": "Rocket skates telemetry", "language": "Python",
         "frameworks": ["FastAPI"], "tags": ["iot", "telemetry"], "status": "in_progress"},
        {"name": "Anvil drop simulator", "language": "Rust", "frameworks": ["bevy"],
         "tags": ["physics", "simulation"], "status": "done"},
        {"name": "Roadrunner tracker", "language": "Go", "tags": ["gps", "realtime"],
         "status": "abandoned"},
    ],
}  # fmt: skip
