"""Every process, temp dir and bpffs pin the bench makes, and their end.

Processes start in their own session (process group), so one kill reaches what they spawn;
`Cleanup.close` (run at exit, on SIGINT/SIGTERM, and after an error) stops whatever is still
running with SIGINT, then SIGKILL after a grace period, and removes temp dirs and pins.
Reaping goes through wait4(2) so a measured process's peak RSS and CPU time come back.
"""
import os
import re
import shutil
import signal
import subprocess
import tempfile
import threading
import time

GRACE_S = 5.0


class Usage:
    """What wait4 reported for a process: peak RSS (KiB), user and system CPU seconds."""

    def __init__(self, ru=None):
        self.maxrss_kib = ru.ru_maxrss if ru else 0
        self.user_s = ru.ru_utime if ru else 0.0
        self.sys_s = ru.ru_stime if ru else 0.0

    @property
    def cpu_s(self):
        return self.user_s + self.sys_s


class Watch:
    """Reads one output stream on a thread, keeping (in seconds since the process started)
    when the first line arrived, when each pattern first matched and when the line after
    that match arrived, plus the last lines for error messages."""

    def __init__(self, stream, t0, patterns=()):
        self.t0 = t0
        self.first_line = None
        self.lines = 0
        self.tail = []
        self.hits = {p: None for p in patterns}
        self.next_after = {p: None for p in patterns}
        self.counts = {p: 0 for p in patterns}
        self.patterns = [(p, re.compile(p)) for p in patterns]
        self.done = threading.Event()
        self.changed = threading.Condition()
        self.thread = threading.Thread(target=self._read, args=(stream,), daemon=True)
        self.thread.start()

    def _read(self, stream):
        try:
            for raw in stream:
                now = time.monotonic() - self.t0
                line = raw.decode(errors="replace").rstrip("\n")
                with self.changed:
                    if self.first_line is None:
                        self.first_line = now
                    self.lines += 1
                    for p, rx in self.patterns:
                        if self.hits[p] is not None and self.next_after[p] is None:
                            self.next_after[p] = now
                        if rx.search(line):
                            self.counts[p] += 1
                            if self.hits[p] is None:
                                self.hits[p] = now
                    self.tail.append(line)
                    del self.tail[:-40]
                    self.changed.notify_all()
        finally:
            with self.changed:
                self.done.set()
                self.changed.notify_all()

    def _wait(self, get, timeout):
        end = time.monotonic() + timeout
        with self.changed:
            while get() is None and not self.done.is_set():
                left = end - time.monotonic()
                if left <= 0:
                    break
                self.changed.wait(min(left, 0.05))
            return get()

    def wait_for(self, pattern, timeout):
        """Seconds from start until a line matched `pattern`; None on timeout or EOF."""
        return self._wait(lambda: self.hits[pattern], timeout)

    def wait_after(self, pattern, timeout):
        """Seconds from start until the line after the one that matched `pattern`."""
        return self._wait(lambda: self.next_after[pattern], timeout)

    def wait_first_line(self, timeout):
        """Seconds from start until the first line."""
        return self._wait(lambda: self.first_line, timeout)

    def text(self):
        with self.changed:
            return "\n".join(self.tail)


class Proc:
    """A started process. `out`/`err` are Watches when the stream was watched."""

    def __init__(self, cleanup, cmd, *, stdin=None, stdout="null", stderr="watch",
                 env=None, cwd=None, patterns=()):
        self.cleanup = cleanup
        self.cmd = cmd
        self.usage = None
        self.status = None
        self.out = self.err = None
        sinks = {"null": subprocess.DEVNULL, "watch": subprocess.PIPE, "pipe": subprocess.PIPE,
                 "inherit": None}
        kw = {}
        if not isinstance(stdout, str):
            kw["stdout"] = stdout
        else:
            kw["stdout"] = sinks[stdout]
        kw["stderr"] = sinks[stderr] if isinstance(stderr, str) else stderr
        self.t0 = time.monotonic()
        self.popen = subprocess.Popen(cmd, stdin=stdin, env=env, cwd=cwd, start_new_session=True,
                                      **kw)
        self.pid = self.popen.pid
        cleanup.procs.add(self)
        if stdout == "watch":
            self.out = Watch(self.popen.stdout, self.t0, patterns)
        if stderr == "watch":
            self.err = Watch(self.popen.stderr, self.t0, patterns)

    def vmhwm_kib(self):
        """Peak RSS so far (VmHWM), None once the process is gone."""
        try:
            with open(f"/proc/{self.pid}/status") as f:
                m = re.search(r"VmHWM:\s+(\d+)", f.read())
            return int(m.group(1)) if m else None
        except OSError:
            return None

    def running(self):
        return self.status is None and self._reap(block=False) is None

    def wait(self, timeout):
        """Waits up to `timeout` s for the process to exit by itself; then stops it.
        Returns its exit status (negative: killed by that signal)."""
        end = time.monotonic() + timeout
        while self.status is None and time.monotonic() < end:
            if self._reap(block=False) is not None:
                break
            time.sleep(0.001)
        if self.status is None:
            self.stop()
        return self.status

    def stop(self, sig=signal.SIGINT, grace=GRACE_S):
        """Sends `sig` to the process, waits `grace` s, then SIGKILLs its whole group."""
        if self.status is None:
            try:
                os.kill(self.pid, sig)
            except ProcessLookupError:
                pass
            end = time.monotonic() + grace
            while self.status is None and time.monotonic() < end:
                if self._reap(block=False) is not None:
                    break
                time.sleep(0.005)
        if self.status is None:
            self._kill_group()
            self._reap(block=True)
        self._kill_group()  # children it left behind
        for w in (self.out, self.err):
            if w:
                w.thread.join(timeout=2)
        return self.status

    def _kill_group(self):
        try:
            os.killpg(self.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass

    def _reap(self, block):
        try:
            pid, status, ru = os.wait4(self.pid, 0 if block else os.WNOHANG)
        except ChildProcessError:
            pid, status, ru = self.pid, 0, None
        if pid == 0:
            return None
        self.status = os.waitstatus_to_exitcode(status)
        self.usage = Usage(ru)
        # Popen must not wait for it again.
        self.popen.returncode = self.status
        self.cleanup.procs.discard(self)
        return self.status


class Cleanup:
    """Owns what must not outlive the bench."""

    def __init__(self):
        self.procs = set()
        self.dirs = []
        self.pins = []
        self.closers = []
        self.closed = False
        self.root = tempfile.mkdtemp(prefix="coreship-bench-")
        self.dirs.append(self.root)

    def tmp(self, name):
        path = os.path.join(self.root, name)
        os.makedirs(path, exist_ok=True)
        return path

    def pin_dir(self, name):
        """A bpffs path removed at exit."""
        path = f"/sys/fs/bpf/coreship-bench-{os.getpid()}-{name}"
        self.pins.append(path)
        return path

    def spawn(self, cmd, **kw):
        return Proc(self, cmd, **kw)

    def close(self):
        if self.closed:
            return
        self.closed = True
        for close in reversed(self.closers):
            try:
                close()
            except Exception as e:  # noqa: BLE001 - cleanup goes on whatever failed
                print(f"bench: cleanup: {e}", flush=True)
        for p in list(self.procs):
            p.stop(grace=2.0)
        for pin in self.pins:
            shutil.rmtree(pin, ignore_errors=True)
        for d in self.dirs:
            shutil.rmtree(d, ignore_errors=True)
        left = [p for p in self.pins if os.path.exists(p)]
        if left:
            print(f"bench: could not remove bpffs pins {left}", flush=True)
