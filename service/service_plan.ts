/**
 * What install-service creates on each operating system, and the commands that enable, start,
 * restart, stop and remove it: one plan per service, computed before anything is written, so
 * that `--dry-run` prints exactly what a real install does. Pure.
 *
 * | OS | manager | file |
 * | --- | --- | --- |
 * | Linux with systemd | systemd | `/etc/systemd/system/besclient.service` |
 * | Linux without, Solaris | initd | `/etc/init.d/besclient` |
 * | HP-UX | initd | `/sbin/init.d/besclient` |
 * | AIX | initd | `/etc/rc.d/rc2.d/SBESClientd` |
 * | macOS | launchd | `/Library/LaunchDaemons/com.mle.besclient.plist` |
 * | Windows | windows | none: `sc.exe create "BES Client"` |
 *
 * @module
 */

import type { TargetOs } from "../keystore/default_paths.ts";
import type { Role } from "../cli/role_permissions.ts";
import { initScript } from "./init_script.ts";
import { launchdLabel, launchdPlist } from "./launchd_plist.ts";
import type { ServiceDefinition, ServiceManager } from "./service_definition.ts";
import { systemdUnit } from "./systemd_unit.ts";
import { windowsServiceCommands } from "./windows_service.ts";

/** The roles that run as a service (the admin tool does not). */
export type ServiceRole = Exclude<Role, "admin">;

/** Each role's default names, after the seeds' `BES Client` and `besclient`. */
export const SERVICE_NAMES: Record<
  ServiceRole,
  { windows: string; unix: string; aixScript: string; description: string }
> = {
  client: {
    windows: "BES Client",
    unix: "besclient",
    aixScript: "SBESClientd",
    description: "BES Client: the endpoint agent (mle-client run)",
  },
  relay: {
    windows: "BES Relay",
    unix: "besrelay",
    aixScript: "SBESRelayd",
    description: "BES Relay: store and forward to the parent (mle-relay run)",
  },
  server: {
    windows: "BES Root Server",
    unix: "besserver",
    aixScript: "SBESRootServerd",
    description: "BES Root Server: registers clients, stores reports (mle-server run)",
  },
};

/** The service name a role gets on `os` unless told otherwise. */
export function defaultServiceName(role: ServiceRole, os: TargetOs): string {
  return os === "windows" ? SERVICE_NAMES[role].windows : SERVICE_NAMES[role].unix;
}

/**
 * Whether `name` can name a service on `os`: letters, digits, `.`, `_`, `-` (and spaces on
 * Windows), at most 64 characters, so that it is a safe file name and unit name everywhere.
 */
export function isServiceName(name: string, os: TargetOs): boolean {
  return os === "windows"
    ? /^[A-Za-z0-9][A-Za-z0-9 ._-]{0,63}$/.test(name) && !name.endsWith(" ")
    : /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/.test(name);
}

/** The manager of `os`: on Linux systemd when it runs the machine, else init scripts. */
export function serviceManagerFor(os: TargetOs, systemd: boolean): ServiceManager {
  if (os === "windows") return "windows";
  if (os === "macos") return "launchd";
  return os === "linux" && systemd ? "systemd" : "initd";
}

/** A file install-service writes. */
export interface ServiceFile {
  path: string;
  content: string;
  mode: number;
}

/** A symbolic link install-service makes (the rc.d start and kill links of HP-UX and Solaris). */
export interface ServiceLink {
  path: string;
  target: string;
}

/** Everything install-service and uninstall-service do for one service. */
export interface ServicePlan {
  os: TargetOs;
  manager: ServiceManager;
  name: string;
  files: ServiceFile[];
  links: ServiceLink[];
  /** After the files are written: register the service with its manager. */
  install: string[][];
  /** After install: start it now (left out with --no-start). */
  start: string[][];
  /** What restarts it: what `rotate-keys` and `mle-client -restart` run. */
  restart: string[];
  /** Before the files are removed: stop and unregister it (a failure here is not fatal). */
  stop: string[][];
  /** After the files are removed. */
  afterRemove: string[][];
}

/** How to plan. */
export interface PlanOptions {
  role: ServiceRole;
  os: TargetOs;
  manager: ServiceManager;
  /** The Linux tool that links init scripts into the runlevels, when one exists. */
  initTool: "update-rc.d" | "chkconfig" | null;
}

/**
 * The plan for `definition`.
 *
 * @example
 * ```ts
 * import { planService } from "./service_plan.ts";
 * const plan = planService({
 *   name: "besclient",
 *   description: "BES Client",
 *   argv: ["/usr/local/bin/mle-client", "run"],
 *   dataDir: "/var/opt/BESClient",
 *   writablePaths: [],
 * }, { role: "client", os: "linux", manager: "initd", initTool: null });
 * console.log(plan.restart); // ["/etc/init.d/besclient", "restart"]
 * ```
 */
export function planService(definition: ServiceDefinition, options: PlanOptions): ServicePlan {
  const { name } = definition;
  const base = { os: options.os, manager: options.manager, name, links: [], afterRemove: [] };
  switch (options.manager) {
    case "systemd": {
      const unit = `${name}.service`;
      return {
        ...base,
        files: [{
          path: `/etc/systemd/system/${unit}`,
          content: systemdUnit(definition),
          mode: 0o644,
        }],
        install: [["systemctl", "daemon-reload"], ["systemctl", "enable", unit]],
        start: [["systemctl", "start", unit]],
        restart: ["systemctl", "restart", unit],
        stop: [["systemctl", "disable", "--now", unit]],
        afterRemove: [["systemctl", "daemon-reload"]],
      };
    }
    case "launchd": {
      const label = launchdLabel(name);
      const path = `/Library/LaunchDaemons/${label}.plist`;
      return {
        ...base,
        files: [{ path, content: launchdPlist(definition), mode: 0o644 }],
        install: [],
        // Loading the job starts it (RunAtLoad); without it, launchd loads it at the next boot.
        start: [["launchctl", "bootstrap", "system", path]],
        restart: ["launchctl", "kickstart", "-k", `system/${label}`],
        stop: [["launchctl", "bootout", `system/${label}`]],
      };
    }
    case "windows": {
      const commands = windowsServiceCommands(definition);
      return {
        ...base,
        files: [],
        install: commands.create,
        start: [commands.start],
        restart: commands.restart,
        stop: [commands.stop, commands.delete],
      };
    }
    case "initd":
      return planInitScript(definition, options);
  }
}

function planInitScript(definition: ServiceDefinition, options: PlanOptions): ServicePlan {
  const { name } = definition;
  const path = initScriptPath(options.role, options.os, name);
  const plan: ServicePlan = {
    os: options.os,
    manager: "initd",
    name,
    files: [{ path, content: initScript(definition), mode: 0o755 }],
    links: [],
    install: [],
    start: [[path, "start"]],
    restart: [path, "restart"],
    stop: [[path, "stop"]],
    afterRemove: [],
  };
  if (options.os === "hpux") {
    plan.links.push(
      { path: `/sbin/rc3.d/S900${name}`, target: path },
      { path: `/sbin/rc2.d/K100${name}`, target: path },
    );
  } else if (options.os === "solaris") {
    plan.links.push(
      { path: `/etc/rc3.d/S99${name}`, target: path },
      { path: `/etc/rc0.d/K01${name}`, target: path },
    );
  } else if (options.os === "linux" && options.initTool === "update-rc.d") {
    plan.install.push(["update-rc.d", name, "defaults"]);
    plan.stop.push(["update-rc.d", "-f", name, "remove"]);
  } else if (options.os === "linux" && options.initTool === "chkconfig") {
    plan.install.push(["chkconfig", "--add", name]);
    plan.stop.push(["chkconfig", "--del", name]);
  }
  return plan;
}

/**
 * Where a role's init script lives: the seeds' paths (`/etc/init.d/besclient` on Linux and
 * Solaris, `/sbin/init.d/besclient` on HP-UX, `/etc/rc.d/rc2.d/SBESClientd` on AIX, where a
 * script in rc2.d named `S…` is itself what starts it at boot).
 */
export function initScriptPath(role: ServiceRole, os: TargetOs, name: string): string {
  switch (os) {
    case "aix":
      return `/etc/rc.d/rc2.d/${
        name === SERVICE_NAMES[role].unix ? SERVICE_NAMES[role].aixScript : `S${name}`
      }`;
    case "hpux":
      return `/sbin/init.d/${name}`;
    default:
      return `/etc/init.d/${name}`;
  }
}

/**
 * `path` as staged under `root` (install-service --root, for packages and tests): the files keep
 * naming their final paths; only where they are written moves. A Windows drive becomes a folder.
 */
export function underRoot(root: string | null, path: string): string {
  if (root === null) return path;
  const windows = /^[A-Za-z]:[\\/]/.test(path);
  const relative = (windows ? path.replace(/^([A-Za-z]):/, "$1").replaceAll("\\", "/") : path)
    .replace(/^[\\/]+/, "");
  return `${root.replace(/[\\/]+$/, "")}/${relative}`;
}
