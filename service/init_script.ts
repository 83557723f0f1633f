/**
 * A role's System V init script (`/etc/init.d/besclient` and the seeds' other paths): start,
 * stop, restart and status of the role's `run` command as a daemon with a pid file. Pure.
 *
 * Written for the oldest `/bin/sh` the seeds' platforms ship (AIX, HP-UX, Solaris): backticks,
 * no `local`, no `$(…)`.
 *
 * @module
 */

import { joinPath } from "../keystore/secure_file.ts";
import { baseName, checkServiceDefinition, type ServiceDefinition } from "./service_definition.ts";

/** The pid file the init script keeps, in the role's data dir. */
export function initScriptPidFile(definition: ServiceDefinition): string {
  return joinPath(definition.dataDir, "service.pid");
}

/** Where the init script sends the daemon's output, in the role's data dir. */
export function initScriptLogFile(definition: ServiceDefinition): string {
  return joinPath(definition.dataDir, "service.log");
}

/**
 * The script's text.
 *
 * A pid file alone could name a process that ended long ago and whose number was reused, so
 * `status` and `stop` believe it only while that process's command name is still the role's
 * executable (`ps -o comm`): the script never signals an unrelated process.
 *
 * @example
 * ```ts
 * import { initScript } from "./init_script.ts";
 * const script = initScript({
 *   name: "besclient",
 *   description: "BES Client",
 *   argv: ["/usr/local/bin/mle-client", "run"],
 *   dataDir: "/var/opt/BESClient",
 *   writablePaths: [],
 * });
 * console.log(script.startsWith("#!/bin/sh")); // true
 * ```
 */
export function initScript(definition: ServiceDefinition): string {
  checkServiceDefinition(definition);
  const { name } = definition;
  // The kernel's command name is at most 15 characters (Linux): compare that much.
  const processName = baseName(definition.argv[0]).replace(/\.exe$/i, "").slice(0, 15);
  return `#!/bin/sh
#
# ${name}: ${definition.description}
# Made by install-service; remove it with uninstall-service.
#
### BEGIN INIT INFO
# Provides:          ${name}
# Required-Start:    $network $remote_fs
# Required-Stop:     $network $remote_fs
# Default-Start:     2 3 4 5
# Default-Stop:      0 1 6
# Short-Description: ${definition.description}
### END INIT INFO
# chkconfig: 2345 90 10
# description: ${definition.description}

NAME=${quoteShellWord(name)}
DATA_DIR=${quoteShellWord(definition.dataDir)}
PID_FILE=${quoteShellWord(initScriptPidFile(definition))}
LOG_FILE=${quoteShellWord(initScriptLogFile(definition))}
PROCESS_NAME=${quoteShellWord(processName)}

# Sets pid and succeeds while the pid file names a live process of this service.
running() {
  [ -f "$PID_FILE" ] || return 1
  pid=\`cat "$PID_FILE" 2>/dev/null\`
  case "$pid" in
    ''|*[!0-9]*) return 1 ;;
  esac
  kill -0 $pid 2>/dev/null || return 1
  command_name=\`ps -p $pid -o comm= 2>/dev/null\`
  case "$command_name" in
    *"$PROCESS_NAME"*) return 0 ;;
  esac
  return 1
}

start() {
  if running; then
    echo "$NAME is already running (pid $pid)"
    return 0
  fi
  umask 077
  [ -d "$DATA_DIR" ] || mkdir -p "$DATA_DIR" || return 1
  nohup ${definition.argv.map(quoteShellWord).join(" ")} </dev/null >>"$LOG_FILE" 2>&1 &
  child=$!
  echo $child >"$PID_FILE"
  # Until nohup has become the service's program, running() does not recognise it: wait for
  # that, so that a status or start right after this one sees the service as running.
  tries=0
  until running; do
    if ! kill -0 $child 2>/dev/null; then
      rm -f "$PID_FILE"
      echo "$NAME failed to start: see $LOG_FILE"
      return 1
    fi
    [ $tries -ge 10 ] && break
    sleep 1
    tries=\`expr $tries + 1\`
  done
  echo "$NAME started (pid $child)"
}

stop() {
  if ! running; then
    rm -f "$PID_FILE"
    echo "$NAME is not running"
    return 0
  fi
  kill -TERM $pid 2>/dev/null
  waited=0
  while kill -0 $pid 2>/dev/null; do
    if [ $waited -ge 30 ]; then
      kill -KILL $pid 2>/dev/null
      break
    fi
    sleep 1
    waited=\`expr $waited + 1\`
  done
  rm -f "$PID_FILE"
  echo "$NAME stopped"
}

case "$1" in
  start) start ;;
  stop) stop ;;
  restart) stop && start ;;
  status)
    if running; then
      echo "$NAME is running (pid $pid)"
      exit 0
    fi
    echo "$NAME is not running"
    exit 3
    ;;
  *)
    echo "Usage: $0 {start|stop|restart|status}" >&2
    exit 2
    ;;
esac
`;
}

/** One word for `/bin/sh`, single-quoted (a quote inside becomes `'\''`). */
export function quoteShellWord(word: string): string {
  return `'${word.replaceAll("'", "'\\''")}'`;
}
