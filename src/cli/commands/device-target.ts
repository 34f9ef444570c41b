// Where `icos ssh`, `status` and `rollback` connect: a VM that `icos run` left running (found in
// the registry: its forwarded port, its own known_hosts, and the key its CONFIG media lets in), or
// with --ssh any device, its host key checked as `icos upgrade` checks it.
import type { Command } from "commander";
import { keySearchDirs, matchingPrivateKey, mediaKeys } from "../../config/ssh-identity.ts";
import { UserError } from "../../errors.ts";
import { parseSshAddress, type SshTarget } from "../../upgrade/ssh.ts";
import { inputFile } from "../../user-files.ts";
import { findVm, type VmRecord } from "../../vm/registry.ts";

export interface DeviceFlags {
  ssh?: string;
  user: string;
  identity?: string;
  knownHosts?: string;
  trustOnFirstUse?: boolean;
}

export interface DeviceTarget {
  ssh: SshTarget;
  /** The VM, when the device is one from `icos run`. */
  vm?: VmRecord;
  /** Why no key was chosen for the VM (shown when ssh fails to log in). */
  noKey?: string;
}

/** The flags of a command that reaches a device over ssh: [vm] or --ssh, user, key, host key. */
export function addDeviceFlags(command: Command, opts: { ssh: boolean }): Command {
  if (opts.ssh) command.option("--ssh <host:port>", "a device's ssh address, e.g. 192.0.2.10 or 127.0.0.1:2222 (instead of a VM from `icos run`)");
  command
    .option("--user <name>", "ssh user", "admin")
    .option("-i, --identity <key>", "ssh private key (default for a VM: the key whose .pub is on its config media, looked for beside the media, here and in ~/.ssh; else $ICOS_SSH_KEY or ssh's own choice)");
  if (opts.ssh) {
    command
      .option("--known-hosts <file>", "check the device's host key against this file only (default: your known_hosts; a VM: its own file in its work dir)")
      .option("--trust-on-first-use", "accept whatever host key the device shows first (its fingerprint is printed) and require it for the rest of the command");
  }
  return command;
}

/** The ssh target for `vmArg` or `--ssh`, checking every flag first. */
export async function deviceTarget(vmArg: string | undefined, f: DeviceFlags, env: NodeJS.ProcessEnv = process.env): Promise<DeviceTarget> {
  if (f.identity !== undefined) inputFile(f.identity, `--identity ${f.identity}`, { hint: "give an ssh private key file" });
  if (f.knownHosts !== undefined) inputFile(f.knownHosts, `--known-hosts ${f.knownHosts}`, { hint: "give a known_hosts file" });
  if (f.knownHosts !== undefined && f.trustOnFirstUse) throw new UserError("--known-hosts and --trust-on-first-use: give one of them");
  if (!/^[a-z_][a-z0-9_-]{0,31}$/.test(f.user)) throw new UserError(`--user: "${f.user}" is not a user name`);
  const envKey = env.ICOS_SSH_KEY || undefined;
  if (envKey !== undefined) inputFile(envKey, `ICOS_SSH_KEY=${envKey}`, { hint: "point it at an ssh private key file, or unset it" });
  if (f.ssh !== undefined) {
    if (vmArg !== undefined) throw new UserError(`a VM ("${vmArg}") and --ssh ${f.ssh}: give one of them`);
    const { host, port } = parseSshAddress(f.ssh);
    const hostKeys = f.knownHosts !== undefined ? { knownHosts: f.knownHosts } : f.trustOnFirstUse ? ("trust-on-first-use" as const) : ("user-known-hosts" as const);
    return { ssh: { host, port, user: f.user, identity: f.identity ?? envKey, hostKeys } };
  }
  const vm = findVm(vmArg, env);
  const hostKeys = f.knownHosts !== undefined ? { knownHosts: f.knownHosts } : f.trustOnFirstUse ? ("trust-on-first-use" as const) : { knownHosts: vm.knownHosts, acceptNew: true };
  const ssh: SshTarget = { host: "127.0.0.1", port: vm.sshPort, user: f.user, hostKeys };
  if (f.identity ?? envKey) return { ssh: { ...ssh, identity: f.identity ?? envKey }, vm };
  if (vm.configMedia === undefined) return { ssh, vm, noKey: `${vm.name} was started without a config media, so no key was looked for` };
  const keys = await mediaKeys(vm.configMedia, f.user);
  if (keys.length === 0) return { ssh, vm, noKey: `its config media ${vm.configMedia} gives ${f.user} no ssh key` };
  const dirs = keySearchDirs(vm.configMedia);
  const identity = matchingPrivateKey(keys, dirs);
  if (identity === undefined) return { ssh, vm, noKey: `no private key whose .pub is ${f.user}'s key on ${vm.configMedia} was found in ${dirs.join(", ")}` };
  return { ssh: { ...ssh, identity }, vm };
}
