/**
 * A real software TPM 2.0 (Debian's swtpm) for a QEMU guest, whose PCRs can be read back after
 * the guest ran: the proof that firmware measured its boot, not just that QEMU started.
 *
 * QEMU must end with SIGKILL: any orderly exit (`reset -s`, SIGTERM, QMP quit) tells swtpm to
 * shut down, and the PCRs, which are volatile, are gone. After the kill, swtpm's control
 * socket saves the volatile state and shuts it down; a second swtpm resumes that state with a
 * data socket (no Startup needed) and answers a raw TPM2_PCR_Read. swtpm cannot serve a data
 * socket to us while QEMU owns the TPM (QEMU refuses to start when `--server` is given).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { createConnection } from 'node:net';
import { join } from 'node:path';

const CMD_SHUTDOWN = 0x03;
const CMD_STORE_VOLATILE = 0x0a;
/** TPM2_PCR_Read of the SHA-256 bank, PCRs 0-7 (TPM 2.0 Part 3 §22.4): tag, size, code, one selection. */
const PCR_READ_SHA256_0_7 = Buffer.from('8001000000140000017e00000001000b03ff0000', 'hex');

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function waitForFile(path: string, ms = 10_000): Promise<void> {
  for (const end = Date.now() + ms; Date.now() < end; await sleep(20)) if (existsSync(path)) return;
  throw new Error(`swtpm did not create ${path} within ${ms / 1000}s`);
}

function exited(child: ChildProcess): Promise<void> {
  return child.exitCode !== null || child.signalCode !== null ? Promise.resolve() : new Promise((r) => child.once('exit', () => r()));
}

/** Sends one request on a unix socket; resolves with the reply once `size(reply)` bytes came. */
function exchange(socket: string, request: Buffer, size: (reply: Buffer) => number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const s = createConnection(socket);
    let reply = Buffer.alloc(0);
    const timer = setTimeout(() => {
      s.destroy();
      reject(new Error(`no reply on ${socket} within 10s`));
    }, 10_000);
    s.on('connect', () => s.write(request));
    s.on('data', (d: Buffer) => {
      reply = Buffer.concat([reply, d]);
      if (reply.length >= size(reply)) {
        clearTimeout(timer);
        s.end();
        resolve(reply);
      }
    });
    s.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
  });
}

/** A control-channel command: 4-byte code, 4-byte result (0 = success). */
async function control(socket: string, code: number): Promise<void> {
  const result = (await exchange(socket, Buffer.from([0, 0, 0, code]), () => 4)).readUInt32BE(0);
  if (result !== 0) throw new Error(`swtpm control command ${code} failed with ${result}`);
}

/** TPM2_PCR_Read's response: SHA-256 digests of PCRs 0-7, in order. */
function parsePcrRead(r: Buffer): string[] {
  const rc = r.readUInt32BE(6);
  if (rc !== 0) throw new Error(`TPM2_PCR_Read returned 0x${rc.toString(16)} (0x100: the TPM was never started)`);
  let at = 14;
  const selections = r.readUInt32BE(at);
  at += 4;
  for (let i = 0; i < selections; i++) at += 3 + r.readUInt8(at + 2);
  const count = r.readUInt32BE(at);
  at += 4;
  const digests: string[] = [];
  for (let i = 0; i < count; i++) {
    const length = r.readUInt16BE(at);
    digests.push(r.subarray(at + 2, at + 2 + length).toString('hex'));
    at += 2 + length;
  }
  return digests;
}

export class SoftwareTpm {
  private constructor(private readonly dir: string, private readonly tpm: ChildProcess) {}

  /** Starts swtpm with a fresh state directory under `dir` (no swtpm_setup needed). */
  static async start(dir: string): Promise<SoftwareTpm> {
    mkdirSync(join(dir, 'state'), { recursive: true });
    const tpm = spawn('swtpm', ['socket', '--tpm2', '--tpmstate', `dir=${join(dir, 'state')}`, '--ctrl', `type=unixio,path=${join(dir, 'ctrl.sock')}`], { stdio: 'ignore' });
    await waitForFile(join(dir, 'ctrl.sock'));
    return new SoftwareTpm(dir, tpm);
  }

  /** QEMU's arguments for this TPM, with the device the machine has (tpm-crb, tpm-tis-device). */
  qemuArgs(device: string): string[] {
    return ['-chardev', `socket,id=chrtpm,path=${join(this.dir, 'ctrl.sock')}`, '-tpmdev', 'emulator,id=tpm0,chardev=chrtpm', '-device', `${device},tpmdev=tpm0`];
  }

  /** After QEMU was killed (SIGKILL): the SHA-256 PCRs 0-7 as the guest left them. Ends this TPM. */
  async readPcrs(): Promise<string[]> {
    await control(join(this.dir, 'ctrl.sock'), CMD_STORE_VOLATILE);
    await control(join(this.dir, 'ctrl.sock'), CMD_SHUTDOWN);
    await exited(this.tpm);
    const reader = spawn('swtpm', ['socket', '--tpm2', '--tpmstate', `dir=${join(this.dir, 'state')}`,
      '--server', `type=unixio,path=${join(this.dir, 'data.sock')}`, '--ctrl', `type=unixio,path=${join(this.dir, 'ctrl2.sock')}`, '--flags', 'not-need-init'], { stdio: 'ignore' });
    try {
      await waitForFile(join(this.dir, 'data.sock'));
      const reply = await exchange(join(this.dir, 'data.sock'), PCR_READ_SHA256_0_7, (r) => (r.length >= 6 ? r.readUInt32BE(2) : Infinity));
      return parsePcrRead(reply);
    } finally {
      await control(join(this.dir, 'ctrl2.sock'), CMD_SHUTDOWN).catch(() => reader.kill('SIGKILL'));
      await exited(reader);
    }
  }

  /** Stops swtpm if it still runs (a test that failed before reading). */
  async stop(): Promise<void> {
    if (this.tpm.exitCode === null && this.tpm.signalCode === null) {
      this.tpm.kill('SIGKILL');
      await exited(this.tpm);
    }
  }
}
