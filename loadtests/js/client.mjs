// A real Yjs client (yjs + y-websocket's WebsocketProvider) driven over stdin/stdout.
//
// Every stdin line is one JSON command {id, cmd, ...}; every command gets exactly one reply
// line {id, ok: true, ...} or {id, ok: false, error}. Lines without an id are events
// ({event: "status" | "synced" | "connection-close" | "connection-error" | "closed", ...}).
// The process exits when stdin closes or after the "exit" command.
//
// Commands:
//   connect {url, room, params?, textName?, reconnect?}  -> {clientID}
//   insert {text, index?}     (index defaults to the end)   -> {length}
//   delete {index, length}                                   -> {length}
//   getText                                                  -> {text}
//   getStateVector                                           -> {stateVector: base64}
//   setAwareness {state}      (null clears the local state)  -> {}
//   getAwareness                                             -> {states: {clientID: state}}
//   waitSynced {timeout?}     (milliseconds, default 10000)  -> {}
//   lastMessageAgo            (the provider's own clock)     -> {ms}
//   close                     (destroys the provider)        -> {}
//   exit                                                     -> {} then exits
import readline from 'node:readline'
import WebSocket from 'ws'
import * as Y from 'yjs'
import { WebsocketProvider } from 'y-websocket'

let doc = null
let provider = null
let text = null

const write = (obj) => process.stdout.write(JSON.stringify(obj) + '\n')
const emit = (event, data = {}) => write({ event, ...data })

const needProvider = () => {
  if (provider === null) throw new Error('not connected: send connect first')
}

const connect = ({ url, room, params = {}, textName = 'text', reconnect = true }) => {
  if (provider !== null) throw new Error('already connected')
  if (typeof url !== 'string' || typeof room !== 'string') {
    throw new Error('connect needs a url and a room')
  }
  doc = new Y.Doc()
  text = doc.getText(textName)
  provider = new WebsocketProvider(url, room, doc, {
    params,
    WebSocketPolyfill: WebSocket,
    disableBc: true,
    shouldReconnect: reconnect ? undefined : () => false
  })
  provider.on('status', ({ status }) => emit('status', { status }))
  provider.on('sync', (synced) => emit('synced', { synced }))
  provider.on('connection-close', (event) =>
    emit('connection-close', { code: event?.code ?? null, reason: event?.reason ?? null }))
  provider.on('connection-error', () => emit('connection-error'))
  provider.on('closed', ({ code, reason }) => emit('closed', { code, reason }))
  return { clientID: doc.clientID, url: provider.url }
}

const waitSynced = ({ timeout = 10000 }) => {
  needProvider()
  if (provider.synced) return Promise.resolve({})
  return new Promise((resolve, reject) => {
    const onSync = (synced) => {
      if (!synced) return
      clearTimeout(timer)
      provider.off('sync', onSync)
      resolve({})
    }
    const timer = setTimeout(() => {
      provider.off('sync', onSync)
      reject(new Error(`not synced after ${timeout} ms`))
    }, timeout)
    provider.on('sync', onSync)
  })
}

const close = () => {
  if (provider !== null) {
    provider.destroy()
    doc.destroy()
  }
  provider = null
  doc = null
  text = null
  return {}
}

const handlers = {
  connect,
  insert: ({ text: value, index }) => {
    needProvider()
    text.insert(index ?? text.length, String(value))
    return { length: text.length }
  },
  delete: ({ index, length }) => {
    needProvider()
    text.delete(index, length)
    return { length: text.length }
  },
  getText: () => {
    needProvider()
    return { text: text.toString() }
  },
  getStateVector: () => {
    needProvider()
    return { stateVector: Buffer.from(Y.encodeStateVector(doc)).toString('base64') }
  },
  setAwareness: ({ state }) => {
    needProvider()
    provider.awareness.setLocalState(state ?? null)
    return {}
  },
  getAwareness: () => {
    needProvider()
    return { states: Object.fromEntries(provider.awareness.getStates()) }
  },
  waitSynced,
  // How long ago the provider last received a message: past 30 s it reconnects.
  lastMessageAgo: () => {
    needProvider()
    return { ms: Date.now() - provider.wsLastMessageReceived }
  },
  close,
  exit: () => {
    close()
    setImmediate(() => process.exit(0))
    return {}
  }
}

const handle = async (line) => {
  let id = null
  try {
    const command = JSON.parse(line)
    id = command.id ?? null
    const handler = handlers[command.cmd]
    if (handler === undefined) throw new Error(`unknown command ${JSON.stringify(command.cmd)}`)
    write({ id, ok: true, ...(await handler(command)) })
  } catch (error) {
    write({ id, ok: false, error: String(error?.message ?? error) })
  }
}

const input = readline.createInterface({ input: process.stdin })
input.on('line', (line) => { if (line.trim() !== '') handle(line) })
input.on('close', () => {
  close()
  process.exit(0)
})
