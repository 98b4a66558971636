// A node http server for the integration tests: answers every request with
// the contents of --body-file, read once at start-up.
//
//   node node_server.js --listen tcp:127.0.0.1:PORT|unix:/path [--body-file F]
//
// Node answers an HTTP/1.0 request without keep-alive with "HTTP/1.1 200 OK"
// and closes the connection, which the load client accepts.
'use strict';
const fs = require('fs');
const http = require('http');

function parseArgs(argv) {
  const opts = { listen: null, bodyFile: null };
  for (let i = 0; i < argv.length; i += 2) {
    if (argv[i] === '--listen') opts.listen = argv[i + 1];
    else if (argv[i] === '--body-file') opts.bodyFile = argv[i + 1];
    else throw new Error(`unknown option ${argv[i]}`);
  }
  if (!opts.listen) throw new Error('--listen is required');
  return opts;
}

function listenTarget(spec) {
  let m = /^tcp:([0-9.]+):(\d+)$/.exec(spec);
  if (m) return { host: m[1], port: Number(m[2]) };
  m = /^tcp6:\[([0-9a-fA-F:]+)\]:(\d+)$/.exec(spec);
  if (m) return { host: m[1], port: Number(m[2]), ipv6Only: true };
  m = /^unix:(.+)$/.exec(spec);
  if (m) return { path: m[1] };
  throw new Error(`bad --listen ${spec}`);
}

const opts = parseArgs(process.argv.slice(2));
const body = opts.bodyFile ? fs.readFileSync(opts.bodyFile) : Buffer.from('hello\n');
const server = http.createServer((req, res) => {
  res.writeHead(200, { 'Content-Length': body.length, 'Connection': 'close' });
  res.end(body);
});
server.on('error', (err) => {
  console.error(`node_server: ${err.message}`);
  process.exit(1);
});
server.listen(listenTarget(opts.listen));
