#!/usr/bin/env node
// A vmlet client written from the .proto files alone: @grpc/grpc-js and @grpc/proto-loader, the
// files in proto/src/main/proto and proto/third_party, and a daemon's unix socket. It runs one
// micro VM through the whole API a controller needs and checks every answer; NodeClientIT runs it
// against a real daemon on every test run.
//
//   node vmlet-client.js SOCKET [VM_NAME]
//
// npm install @grpc/grpc-js @grpc/proto-loader (./scripts/test puts them in VMLET_NODE_TOOLS and
// sets NODE_PATH). Exits 0 when every step passed; otherwise prints the step that failed.
'use strict';

const assert = require('node:assert/strict');
const crypto = require('node:crypto');
const path = require('node:path');
const grpc = require('@grpc/grpc-js');
const protoLoader = require('@grpc/proto-loader');

const [socket, name = 'node-client'] = process.argv.slice(2);
if (!socket) {
  console.error('usage: vmlet-client.js SOCKET [VM_NAME]');
  process.exit(2);
}

const PROTO = path.join(__dirname, '..', '..');
const definition = protoLoader.loadSync(
  ['vmlet/v1/vm_service.proto', 'vmlet/v1/node_service.proto', 'grpc/health/v1/health.proto'],
  {
    includeDirs: [path.join(PROTO, 'src/main/proto'), path.join(PROTO, 'third_party')],
    keepCase: true, // field names as the .proto spells them
    longs: String,
    enums: String,
    defaults: true,
    oneofs: true, // a oneof's name (payload) says which of its fields is set
  });
const api = grpc.loadPackageDefinition(definition);
const target = 'unix:' + path.resolve(socket);
const vms = new api.vmlet.v1.VmService(target, grpc.credentials.createInsecure());
const health = new api.grpc.health.v1.Health(target, grpc.credentials.createInsecure());

// Every call has a deadline.
const within = (seconds) => ({ deadline: Date.now() + seconds * 1000 });
const unary = (client, method, request, seconds) => new Promise((resolve, reject) =>
  client[method](request, within(seconds), (err, reply) => (err ? reject(err) : resolve(reply))));
const sha256 = (data) => crypto.createHash('sha256').update(data).digest('hex');

async function refused(code, call) {
  try {
    await call();
  } catch (err) {
    assert.equal(err.code, code, `expected ${grpc.status[code]}, got ${grpc.status[err.code]}: ${err.details}`);
    return err.details;
  }
  assert.fail(`expected ${grpc.status[code]}, the call succeeded`);
}

/** Starts WatchVms and resolves once the daemon says WATCHING (after the CURRENT events). */
function watch() {
  const events = [];
  const call = vms.WatchVms({ name: '' });
  const watching = new Promise((resolve, reject) => {
    call.on('data', (e) => {
      events.push(e);
      if (e.kind === 'WATCHING') resolve();
    });
    call.on('error', (err) => {
      if (err.code !== grpc.status.CANCELLED) reject(err);
    });
  });
  return { events, watching, cancel: () => call.cancel() };
}

/** Exec with stdin: what the program wrote, and how it ended. */
function exec(first, stdin, seconds) {
  return new Promise((resolve, reject) => {
    const out = { stdout: [], stderr: [], exit: null };
    const call = vms.Exec(within(seconds));
    call.on('data', (r) => {
      if (r.payload === 'exit') out.exit = r.exit;
      else out[r.payload].push(r[r.payload]);
    });
    call.on('error', reject);
    call.on('end', () => resolve({
      stdout: Buffer.concat(out.stdout).toString(), stderr: Buffer.concat(out.stderr).toString(), exit: out.exit,
    }));
    call.write(first);
    if (stdin !== undefined) {
      call.write({ stdin_data: Buffer.from(stdin) });
      call.write({ stdin_eof: true });
    }
    call.end();
  });
}

/** Pushes data in 1 MiB messages (the largest PushFile takes), waiting whenever gRPC buffers. */
function push(guestPath, data) {
  return new Promise((resolve, reject) => {
    const call = vms.PushFile(within(300), (err, result) => (err ? reject(err) : resolve(result)));
    const messages = [{ header: { name, path: guestPath, mode: 0o600 } }];
    for (let off = 0; off < data.length; off += 1 << 20) messages.push({ data: data.subarray(off, off + (1 << 20)) });
    messages.push({ sha256: sha256(data) });
    const next = () => {
      while (messages.length > 0) {
        if (!call.write(messages.shift())) return call.once('drain', next);
      }
      call.end();
    };
    next();
  });
}

function pull(guestPath) {
  return new Promise((resolve, reject) => {
    const got = { info: null, chunks: [], done: null, largest: 0 };
    const call = vms.PullFile({ name, path: guestPath }, within(300));
    call.on('data', (r) => {
      if (r.payload === 'data') {
        got.chunks.push(r.data);
        got.largest = Math.max(got.largest, r.data.length);
      } else {
        got[r.payload] = r[r.payload];
      }
    });
    call.on('error', reject);
    call.on('end', () => resolve({ ...got, data: Buffer.concat(got.chunks) }));
  });
}

function runLine(line, pipefail) {
  return new Promise((resolve, reject) => {
    const got = { stdout: [], stderr: [], result: null };
    const call = vms.RunCommandLine({ line, pipefail, timeout_seconds: 120 }, within(180));
    call.on('data', (r) => {
      if (r.payload === 'stdout') got.stdout.push(r.stdout);
      else if (r.payload === 'stderr') got.stderr.push(r.stderr);
      else got.result = r.result;
    });
    call.on('error', reject);
    call.on('end', () => resolve({ stdout: Buffer.concat(got.stdout).toString(), result: got.result }));
  });
}

async function step(title, body) {
  const t0 = Date.now();
  await body();
  console.log(`ok   ${title} (${Date.now() - t0} ms)`);
}

async function main() {
  await step('health: the daemon and each service are SERVING', async () => {
    for (const service of ['', 'vmlet.v1.VmService', 'vmlet.v1.NodeService']) {
      assert.equal((await unary(health, 'Check', { service }, 10)).status, 'SERVING', service);
    }
  });

  const watcher = watch();
  await step('WatchVms: CURRENT for each VM, then WATCHING', () => watcher.watching);

  await step('CreateVm and StartVm (micro image)', async () => {
    const created = await unary(vms, 'CreateVm', { spec: { name, image: 'micro' } }, 60);
    assert.equal(created.state, 'CREATED');
    assert.equal(created.spec.accel, 'ACCEL_AUTO');
    const started = await unary(vms, 'StartVm', { name }, 120);
    assert.equal(started.state, 'RUNNING');
    assert.ok(['ACCEL_KVM', 'ACCEL_TCG'].includes(started.accel), started.accel);
  });

  await step('WaitAgentReady', async () => {
    const vm = await unary(vms, 'WaitAgentReady', { name, timeout_seconds: 300 }, 320);
    assert.equal(vm.agent_ready, true);
    assert.equal(vm.guest.os, 'Linux');
  });

  await step('Exec: stdin in, stdout, stderr and the exit code out', async () => {
    const r = await exec({ name, argv: ['sh', '-c', 'cat; echo oops >&2; exit 3'], stdin: true }, 'hello from node\n', 60);
    assert.deepEqual(r, { stdout: 'hello from node\n', stderr: 'oops\n', exit: { exit_code: 3, timed_out: false, cancelled: false, signal: 0 } });
  });

  await step('PushFile then PullFile of 8 MiB, digests compared', async () => {
    const data = crypto.randomBytes(8 << 20);
    const pushed = await push('/tmp/node-client.bin', data);
    assert.equal(Number(pushed.size), data.length);
    assert.equal(pushed.sha256, sha256(data));
    const pulled = await pull('/tmp/node-client.bin');
    assert.equal(Number(pulled.info.size), data.length);
    assert.equal(pulled.info.mode & 0o777, 0o600);
    assert.equal(pulled.done.sha256, sha256(data), 'the guest digest');
    assert.equal(sha256(pulled.data), sha256(data), 'the digest of what arrived');
    assert.ok(pulled.largest <= 32 * 1024, `pull data messages are at most 32 KiB, got ${pulled.largest}`);
  });

  await step('RunCommandLine: a pipe, and pipefail', async () => {
    const piped = await runLine(`@${name} printf 'a\\nb\\nc\\n' | @${name} grep b`, false);
    assert.equal(piped.stdout, 'b\n');
    assert.equal(piped.result.exit_code, 0);
    const failing = await runLine(`@${name} sh -c 'echo x; exit 4' | @${name} cat`, true);
    assert.equal(failing.stdout, 'x\n');
    assert.equal(failing.result.exit_code, 4);
    assert.deepEqual(failing.result.stage_exit_codes, [4, 0]);
  });

  await step('bad inputs are refused with a specific status', async () => {
    await refused(grpc.status.NOT_FOUND, () => unary(vms, 'GetVm', { name: 'no-such-vm' }, 10));
    await refused(grpc.status.INVALID_ARGUMENT, () => unary(vms, 'CreateVm', { spec: { name: 'Bad_Name' } }, 10));
    await refused(grpc.status.ALREADY_EXISTS, () => unary(vms, 'CreateVm', { spec: { name } }, 10));
    // A value number this daemon does not know is refused, not taken as the default.
    const unknown = await refused(grpc.status.INVALID_ARGUMENT, () => unary(vms, 'CreateVm', { spec: { name: 'x1', accel: 99 } }, 10));
    assert.match(unknown, /spec\.accel/);
    const line = await refused(grpc.status.NOT_FOUND, () => runLine('@no-such-vm true', false));
    assert.match(line, /no VM named 'no-such-vm'/);
    await refused(grpc.status.NOT_FOUND, () => new Promise((resolve, reject) => {
      const call = vms.WatchVms({ name: 'no-such-vm' }, within(10));
      call.on('data', () => resolve());
      call.on('error', reject);
    }));
    await refused(grpc.status.NOT_FOUND, () => exec({ name, argv: ['/no/such/program'] }, undefined, 30));
    await refused(grpc.status.FAILED_PRECONDITION, () => unary(vms, 'StartVm', { name }, 10));
  });

  await step('StopVm blocks until STOPPED; DeleteVm', async () => {
    assert.equal((await unary(vms, 'StopVm', { name, timeout_seconds: 30 }, 120)).state, 'STOPPED');
    await unary(vms, 'DeleteVm', { name }, 60);
    await refused(grpc.status.NOT_FOUND, () => unary(vms, 'GetVm', { name }, 10));
  });

  await step('WatchVms saw the life of the VM, agent loss at the stop included', async () => {
    const mine = watcher.events.filter((e) => e.name === name).map((e) => (e.kind === 'STATE_CHANGED' ? e.state : e.kind));
    watcher.cancel();
    for (const expected of ['STARTING', 'RUNNING', 'AGENT_CONNECTED', 'STOPPING', 'AGENT_LOST', 'STOPPED', 'DELETED']) {
      assert.ok(mine.includes(expected), `no ${expected} in ${mine.join(' ')}`);
    }
    assert.ok(mine.indexOf('AGENT_LOST') < mine.indexOf('STOPPED'), mine.join(' '));
  });
}

main().then(() => {
  console.log('all steps passed');
  process.exit(0);
}, (err) => {
  console.error('FAILED:', err.stack || err);
  process.exit(1);
});
