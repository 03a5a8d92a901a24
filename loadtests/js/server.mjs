// The reference y-websocket Node server (@y/websocket-server), as its own bin runs it, but
// with the port and host from the command line and the bound port printed as a JSON line:
//
//   node server.mjs [--port 0] [--host 127.0.0.1]   ->   {"port": 43121, "pid": 1234}
//
// It uses the `ws` version that @y/websocket-server itself depends on (not ours), so that
// what we measure is what its `y-websocket-server` bin serves. In-memory only (no YPERSISTENCE).
import http from 'node:http'
import { createRequire } from 'node:module'
import { parseArgs } from 'node:util'
import { setupWSConnection } from '@y/websocket-server/utils'

const { values } = parseArgs({
  options: {
    port: { type: 'string', default: '0' },
    host: { type: 'string', default: '127.0.0.1' }
  }
})

const serverRequire = createRequire(import.meta.resolve('@y/websocket-server/utils'))
const WebSocket = serverRequire('ws')
const wss = new WebSocket.Server({ noServer: true })
wss.on('connection', setupWSConnection)

const server = http.createServer((_request, response) => {
  response.writeHead(200, { 'Content-Type': 'text/plain' })
  response.end('okay')
})
server.on('upgrade', (request, socket, head) => {
  wss.handleUpgrade(request, socket, head, (ws) => wss.emit('connection', ws, request))
})

const stop = () => server.close(() => process.exit(0))
process.on('SIGTERM', stop)
process.on('SIGINT', stop)

server.listen(Number(values.port), values.host, () => {
  process.stdout.write(JSON.stringify({ port: server.address().port, pid: process.pid }) + '\n')
})
