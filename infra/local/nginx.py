"""The single local entry point: an nginx config that routes like the production load balancer."""

from __future__ import annotations

import os
from pathlib import Path

from .services import SERVICES, Service

_PROXY_HEADERS = """
            proxy_http_version 1.1;
            proxy_set_header Host $host;
            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
            proxy_set_header X-Forwarded-Proto $scheme;
            proxy_set_header X-Request-ID $request_id;"""


def _csp(entry_port: int) -> str:
    """The web app's Content-Security-Policy. The content service's download links name the
    entry as ``localhost`` (as S3's name a bucket in production, whose origin the production
    policy must allow the same way): the page opened as ``127.0.0.1`` still shows a video
    and its poster."""
    files = f"http://localhost:{entry_port} http://127.0.0.1:{entry_port}"
    return (
        "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
        f"img-src 'self' data: blob: {files}; media-src 'self' data: {files}; "
        "connect-src 'self' ws: wss:; frame-ancestors 'none'; base-uri 'self'; form-action 'self'"
    )


def render(
    prefix: Path,
    *,
    entry_port: int,
    web_root: Path,
    collab_ports: list[int],
    stack: tuple[Service, ...] = SERVICES,
) -> str:
    """nginx.conf for ``/api/<service>/`` → each service, ``/collab/`` → collab nodes, ``/`` → web."""
    user = "user root root;" if os.geteuid() == 0 else ""
    upstreams = "\n".join(
        f"    upstream {s.name} {{ server 127.0.0.1:{s.port}; keepalive 16; }}" for s in stack
    )
    locations = "\n".join(
        f"""        location /api/{s.name}/ {{
            proxy_pass http://{s.name}/;{_PROXY_HEADERS}
            proxy_set_header Connection "";
        }}"""
        for s in stack
    )
    collab = ""
    if collab_ports:
        servers = " ".join(f"server 127.0.0.1:{p};" for p in collab_ports)
        collab = f"""
    # Rooms are spread over the nodes by name; any node can serve any room.
    upstream collab {{ hash $uri consistent; {servers} }}"""
        locations += f"""
        location /collab/ {{
            proxy_pass http://collab;{_PROXY_HEADERS}
            proxy_set_header Upgrade $http_upgrade;
            proxy_set_header Connection $connection_upgrade;
            proxy_read_timeout 3600s;
            proxy_send_timeout 3600s;
        }}"""
    temp = prefix / "tmp"
    return f"""{user}
worker_processes 2;
pid {prefix / "nginx.pid"};
error_log stderr warn;
events {{ worker_connections 4096; }}
http {{
    include /etc/nginx/mime.types;
    default_type application/octet-stream;
    access_log off;
    client_max_body_size 12m;
    client_body_temp_path {temp}/body;
    proxy_temp_path {temp}/proxy;
    fastcgi_temp_path {temp}/fastcgi;
    uwsgi_temp_path {temp}/uwsgi;
    scgi_temp_path {temp}/scgi;
    map $http_upgrade $connection_upgrade {{ default upgrade; '' close; }}
{upstreams}{collab}
    server {{
        listen 127.0.0.1:{entry_port};
{locations}
        # An API path of no service here is a 404, never the web app's index.html.
        location /api/ {{
            default_type application/problem+json;
            return 404 '{{"type":"about:blank","title":"Not Found","status":404}}';
        }}
        # The web app: hashed assets are immutable; index.html is always revalidated. The CSP
        # keeps injected scripts out (the access token lives in the page's memory).
        location /assets/ {{
            root {web_root};
            add_header Cache-Control "public, max-age=31536000, immutable";
        }}
        location / {{
            root {web_root};
            try_files $uri /index.html =404;
            add_header Cache-Control "no-cache";
            add_header Content-Security-Policy "{_csp(entry_port)}";
            add_header X-Content-Type-Options nosniff;
            add_header Referrer-Policy same-origin;
        }}
    }}
}}
"""


def write(prefix: Path, **kwargs: object) -> Path:
    (prefix / "tmp").mkdir(parents=True, exist_ok=True)
    path = prefix / "nginx.conf"
    path.write_text(render(prefix, **kwargs))  # type: ignore[arg-type]
    return path
