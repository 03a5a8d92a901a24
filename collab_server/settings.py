"""Collab node settings (environment variables prefixed ``COLLAB_``).

Redis (the bus between nodes and the access ledger) is one server, ``COLLAB_REDIS_URL``
(``redis://`` or ``rediss://``), or, with ``COLLAB_REDIS_CLUSTER=true``, a Redis Cluster
(ElastiCache in cluster mode) that URL names one node of: its configuration endpoint, from
which the client learns the shards. A flag rather than a URL scheme of its own, so that the
URL stays the one the provider hands out and every Redis tool reads.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from platform_api.kernel.events import BusConfig
from rooms.ports import CLOCK_SKEW_SECONDS


class CollabSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="COLLAB_", extra="ignore", frozen=True)

    environment: str = "development"
    node_name: str = "collab-1"
    host: str = "127.0.0.1"
    port: int = 8201
    database_url: str = ""  # empty: in-memory update log (tests, throwaway single node)
    redis_url: str = ""  # empty: in-process bus (single node)
    # True: COLLAB_REDIS_URL names one node of a Redis Cluster, not a single server. Nodes
    # fan out with sharded pub/sub (SPUBLISH/SSUBSCRIBE), each room's messages on the shard
    # that owns its channel's slot, and the access ledger's keys are spread over the shards
    # too (rooms.redis_bus.ShardedRedisBus).
    redis_cluster: bool = False
    snapshot_dir: str = ".local/collab-snapshots"
    s3_bucket: str = ""
    s3_kms_key_id: str = ""
    s3_endpoint_url: str = ""
    # Room tickets are minted by the dojo service; verified here with its public key.
    ticket_public_key: str = ""  # PEM
    ticket_public_key_file: str = ""  # or a PEM file (public, or the issuer's private key locally)
    ticket_jwks_url: str = ""
    ticket_issuer: str = "mrbill-dojos"
    ticket_audience: str = "mrbill-collab"
    # How far the ticket issuer's clock may run ahead of this node's: an access change wins
    # over a ticket issued up to this long after it, and tickets are verified with it as
    # leeway (rooms.ports.CLOCK_SKEW_SECONDS).
    ticket_clock_skew_seconds: float = Field(default=CLOCK_SKEW_SECONDS, ge=0)
    max_message_bytes: int = Field(default=1_048_576, ge=1024)
    max_document_bytes: int = Field(default=16 * 1_048_576, ge=65_536)
    rate_per_second: float = Field(default=100.0, gt=0)
    rate_burst: float = Field(default=300.0, gt=0)
    # Bytes of binary messages a connection may send: past the burst, it is read from at
    # this pace (walking an update costs ~150 ms of the node's loop per MiB).
    read_bytes_per_second: int = Field(default=256 * 1024, ge=1024)
    read_bytes_burst: int = Field(default=4 * 1_048_576, ge=1024)
    send_queue_bytes: int = Field(default=8 * 1_048_576, ge=65_536)
    # Connections one user (of one tenant) may hold on this node, all rooms together: a few
    # tabs and devices, not a script holding thousands of sockets on one ticket.
    max_connections_per_user: int = Field(default=20, ge=1)
    # Awareness states a room holds (every newcomer gets them all in one message); a client id
    # past it goes unseen until a place frees up.
    max_awareness_entries: int = Field(default=1_000, ge=1)
    # Messages for other nodes held while Redis is out of reach (per shard on a cluster);
    # beyond it they are dropped and the other nodes told to catch up from the log once
    # Redis is back (rooms.redis_bus).
    bus_queue_bytes: int = Field(default=64 * 1_048_576, ge=1024)
    # A Redis link that answers nothing for this long (a command, a connect, a ping on a
    # quiet subscription link) is taken for lost and replaced: a failed-over host or a
    # partition may leave it open but silent (rooms.redis_bus).
    redis_timeout_seconds: float = Field(default=5.0, gt=0)
    ping_interval: float = Field(default=20.0, gt=0)
    # A peer sent nothing for a whole period of this is sent an empty awareness message (so
    # it goes at most twice this, and a maintenance pass, without one): y-websocket clients
    # reconnect after 30 s without a message (pings are invisible to them), and a client
    # alone in a room hears nothing (its own awareness is not echoed). Hence at most 12 s.
    quiet_peer_seconds: float = Field(default=10.0, gt=0, le=12)
    first_message_timeout: float = Field(default=5.0, gt=0)
    idle_room_seconds: float = Field(default=30.0, ge=0)
    compact_after_updates: int = Field(default=500, ge=1)
    # A compaction keeps this many of the room's latest snapshots and deletes the ones
    # before (a room loads from its latest; the others serve GET …/state?snapshot=seq).
    snapshots_kept: int = Field(default=3, ge=1)
    # On SIGTERM: the time peers get to leave, then the time pending updates get to commit.
    drain_seconds: float = Field(default=5.0, ge=0)
    # Nodes holding the same room greet each other on the bus; a room only one node holds
    # publishes nothing (rooms.room). A node silent for the TTL is taken for gone; one silent
    # for 3 keepalives is presumed crashed and its clients' ids freed (rooms.room.
    # SILENT_KEEPALIVES), hence a TTL of 3 keepalives at least.
    presence_keepalive_seconds: float = Field(default=10.0, ge=1)
    presence_ttl_seconds: float = Field(default=35.0, ge=3)

    # Erasure (LGPD): the nodes consume identity's deletions (platform_api.kernel.erasure)
    # and erase an organization's rooms. "redis": the streams on COLLAB_REDIS_URL (a single
    # server); "aws": the SQS queue COLLAB_EVENT_QUEUE_URL, subscribed to the identity topic.
    event_bus: Literal["off", "redis", "aws"] = "off"
    event_stream_prefix: str = "mrbill:events"
    event_queue_url: str = ""
    aws_endpoint_url: str = ""
    aws_region: str = "sa-east-1"

    @model_validator(mode="after")
    def _production(self) -> CollabSettings:
        if self.presence_ttl_seconds < 3 * self.presence_keepalive_seconds:
            raise ValueError("COLLAB_PRESENCE_TTL_SECONDS must be at least 3 keepalives")
        if self.environment == "production":
            if not (self.database_url and self.redis_url):
                raise ValueError("production needs COLLAB_DATABASE_URL and COLLAB_REDIS_URL")
            if not (self.ticket_public_key or self.ticket_public_key_file or self.ticket_jwks_url):
                raise ValueError("production needs COLLAB_TICKET_PUBLIC_KEY or _JWKS_URL")
            if self.event_bus == "off":
                raise ValueError("production needs COLLAB_EVENT_BUS (erasure of deleted tenants)")
        if self.event_bus == "redis" and (not self.redis_url or self.redis_cluster):
            raise ValueError("COLLAB_EVENT_BUS=redis needs COLLAB_REDIS_URL of a single server")
        if self.event_bus == "aws" and not self.event_queue_url:
            raise ValueError("COLLAB_EVENT_BUS=aws needs COLLAB_EVENT_QUEUE_URL")
        if self.event_bus != "off" and not self.database_url:
            raise ValueError("COLLAB_EVENT_BUS needs COLLAB_DATABASE_URL (what it erases)")
        return self

    def bus_config(self) -> BusConfig:
        return BusConfig(
            kind="aws" if self.event_bus == "aws" else "redis",
            redis_url=self.redis_url,
            stream_prefix=self.event_stream_prefix,
            queue_url=self.event_queue_url,
            aws_endpoint_url=self.aws_endpoint_url or None,
            aws_region=self.aws_region,
        )

    def ticket_key_pem(self) -> str:
        if self.ticket_public_key or not self.ticket_public_key_file:
            return self.ticket_public_key
        with open(self.ticket_public_key_file) as handle:
            return handle.read()
