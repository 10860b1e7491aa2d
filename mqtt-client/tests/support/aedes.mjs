// A 3.1.1-only broker for the interoperability tests: aedes (npm
// `aedes`, the Node.js broker), in memory, on 127.0.0.1.
//
//   node aedes.mjs <path of aedes/aedes.js>
//
// Prints `listening PORT` once it accepts connections (port chosen by the
// system). Reads commands on stdin, one a line:
//   close CLIENT_ID   closes that client's connection from the broker's
//                     side (its will is published: no DISCONNECT came)
// Exits when stdin closes (its parent, the test, went away).
import { createServer } from 'node:net'
import { pathToFileURL } from 'node:url'
import { createInterface } from 'node:readline'

const { Aedes } = await import(pathToFileURL(process.argv[2]).href)
const aedes = await Aedes.createBroker()
const server = createServer(aedes.handle)
server.listen(0, '127.0.0.1', () => {
  console.log(`listening ${server.address().port}`)
})
const commands = createInterface({ input: process.stdin })
commands.on('line', (line) => {
  const [command, id] = line.trim().split(/\s+/)
  if (command === 'close' && aedes.clients[id]) {
    aedes.clients[id].close()
  }
})
commands.on('close', () => {
  server.close()
  aedes.close(() => process.exit(0))
})
