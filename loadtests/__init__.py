"""Load tests and benchmarks for Mr Bill, above all for the collaboration (y-websocket) server.

- `ywire`: a lean y-websocket client (pycrdt + websockets) used to generate load.
- `servers`: starts reference servers (y-websocket's Node server, pycrdt-websocket) and
  measures a server process tree's CPU time and memory.
- `collab_bench`: the benchmark CLI; `locust_dojo`: a Locust user editing a dojo.
- `js/`: real Yjs clients and the reference Node server (npm packages, locked).
"""
