"""runc's `exec`: one more process in a running container, described by an OCI process
(process.json): it joins every namespace of the container's init and its cgroup, and runs
under the process's user, capabilities, no_new_privs and the container's seccomp filter.

    exec_process(root, id, process, detach=False, console_fd=-1) -> exit status (0 if detached)

Two forks, as runc's nsexec: the first child joins the namespaces (a PID namespace only
applies to children), the second is the process; the first waits for it and passes on its
exit status, or, detached, leaves it to the container's init."""
import os
import signal

from minidocker.errors import CommandNotExecutable, CommandNotFound, MinidockerError
from minidocker.runtime import cgroups, console, libc, security, state
from minidocker.runtime.init import NAMESPACE_FLAGS, _environment, find_executable
from minidocker.runtime.spec import load_bundle
from minidocker.runtime.state import ContainerStateError

PROC_NS = {"pid": "pid", "network": "net", "mount": "mnt", "ipc": "ipc", "uts": "uts", "user": "user",
           "cgroup": "cgroup"}
JOIN_ORDER = ("user", "ipc", "uts", "network", "pid", "mount", "cgroup")   # nsexec's order


def _running(root, container_id: str) -> state.State:
    st = state.load(root, container_id)
    if st.status() != "running":
        raise ContainerStateError(f"cannot exec in a {st.status()} container")
    if st.cgroup and cgroups.lookup(st.cgroup["path"]).frozen:
        raise ContainerStateError("cannot exec in a paused container")
    return st


def _namespace_fds(st: state.State, kinds) -> list:
    """Open the init's namespaces now, while its pid surely means it (start time checked after)."""
    fds = [(kind, os.open(f"/proc/{st.pid}/ns/{PROC_NS[kind]}", os.O_RDONLY | os.O_CLOEXEC))
           for kind in JOIN_ORDER if kind in kinds]
    if not state.alive(st.pid, st.starttime):
        for _, fd in fds:
            os.close(fd)
        raise ContainerStateError("cannot exec in a stopped container")
    return fds


def tell(report: int, message: str):
    os.write(report, (" ".join(message.split()) + "\n").encode())


def _process(process: dict, seccomp_filter, report: int, console_fd: int):
    """The second child, inside every namespace: become the process, or report why not."""
    try:
        if process.get("terminal"):
            os.setsid()
            console.make_console(console_fd, (process.get("user") or {}).get("uid", 0))
        os.chdir(process.get("cwd") or "/")
        env = _environment(process)
        executable = find_executable(process["args"][0], env)
        if seccomp_filter and not process.get("noNewPrivileges"):
            seccomp_filter.load()
        security.apply(process)
        if seccomp_filter and process.get("noNewPrivileges"):
            seccomp_filter.load()
        os.execve(executable, process["args"], env)
    except FileNotFoundError as error:
        if "/" in process["args"][0] and os.path.isfile(process["args"][0]):    # there, but not executable
            tell(report, f'error 126 exec: "{process["args"][0]}": permission denied')
            os._exit(126)
        tell(report, f"error 127 {error.args[0] if len(error.args) == 1 else error}")
    except PermissionError as error:
        tell(report, f"error 126 exec {process['args'][0]}: {error.strerror}")
    except BaseException as error:
        tell(report, f"error 125 exec: {error}")
    os._exit(127)


def _joiner(namespaces, go: int, report: int, process, seccomp_filter, console_fd: int, detach: bool):
    """The first child: wait until the host put it in the cgroup, join, fork the process."""
    try:
        if os.read(go, 1) != b"g":
            os._exit(125)
        for kind, fd in namespaces:
            libc.setns(fd, NAMESPACE_FLAGS[kind])
        child = os.fork()
        if child == 0:
            _process(process, seccomp_filter, report, console_fd)
        tell(report, f"pid {child}")
        os.close(report)
        if detach:
            os._exit(0)
        for number in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGQUIT, signal.SIGUSR1, signal.SIGUSR2):
            signal.signal(number, lambda sig, _frame: state.ignore_esrch(os.kill, child, sig))
        while True:
            try:
                _, status = os.waitpid(child, 0)
                break
            except InterruptedError:
                continue
        code = os.waitstatus_to_exitcode(status)
        os._exit(128 - code if code < 0 else code)
    except BaseException as error:
        tell(report, f"error 125 joining the container: {error}")
        os._exit(125)


def spawn(root, container_id: str, process: dict, detach: bool = False, console_fd: int = -1,
          pid_file=None) -> int:
    """Start `process` in the container; once it has exec'd, the pid to `wait` for (0 if detached)."""
    st = _running(root, container_id)
    bundle = load_bundle(st.bundle)
    if process.get("terminal") and console_fd < 0:
        raise MinidockerError("process.terminal is true: give --console-socket")
    profile = bundle.linux.get("seccomp")
    seccomp_filter = None
    if profile:                  # compiled out here: inside, neither libseccomp nor our modules are visible
        from minidocker.runtime import seccomp
        seccomp_filter = seccomp.compile_filter(profile)
    namespaces = _namespace_fds(st, set(bundle.namespaces()))
    go_r, go_w = os.pipe2(os.O_CLOEXEC)
    report_r, report_w = os.pipe2(os.O_CLOEXEC)
    pid = os.fork()
    if pid == 0:
        os.close(go_w)
        os.close(report_r)
        _joiner(namespaces, go_r, report_w, process, seccomp_filter, console_fd, detach)
    for fd in [go_r, report_w] + [fd for _, fd in namespaces]:
        os.close(fd)
    try:
        if st.cgroup:
            cgroups.lookup(st.cgroup["path"]).add(pid)
        os.write(go_w, b"g")
    finally:
        os.close(go_w)
    with os.fdopen(report_r, "rb") as report:        # EOF: the process exec'd (or the joiner died)
        lines = report.read().decode().splitlines()
    failure = next((line.split(" ", 2)[1:] for line in lines if line.startswith("error ")), None)
    if detach or failure:
        os.waitpid(pid, 0)
    if failure:
        raise {"127": CommandNotFound, "126": CommandNotExecutable}.get(failure[0], MinidockerError)(failure[-1])
    if pid_file:
        process_pid = next((line.split()[1] for line in lines if line.startswith("pid ")), "0")
        with open(f"{pid_file}.tmp", "w") as f:
            f.write(process_pid)
        os.rename(f"{pid_file}.tmp", pid_file)
    return 0 if detach else pid


def wait(pid: int) -> int:
    """The exit status of an exec'd process (its joiner passes it on)."""
    if not pid:
        return 0
    while True:
        try:
            _, status = os.waitpid(pid, 0)
            break
        except InterruptedError:
            continue
    code = os.waitstatus_to_exitcode(status)
    return 128 - code if code < 0 else code


def exec_process(root, container_id: str, process: dict, detach: bool = False, console_fd: int = -1,
                 pid_file=None) -> int:
    """runc exec: run `process` in the container; its exit status (0 once started, detached)."""
    return wait(spawn(root, container_id, process, detach, console_fd, pid_file))
