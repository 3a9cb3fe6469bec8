"""A counting TCP proxy on 127.0.0.1: bytes each way and HTTP requests seen, between a client
and a registry, so a pull's traffic can be read off without the registry's logs."""
import socket
import threading


class CountingProxy:
    def __init__(self, upstream_port):
        self.upstream = ("127.0.0.1", upstream_port)
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        # Accept wakes up at least this often to see the stop flag.
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.lock = threading.Lock()
        self.up = self.down = self.requests = 0
        self.stopping = threading.Event()
        self.threads = []
        self.conns = []
        self.acceptor = threading.Thread(target=self._accept, daemon=True)
        self.acceptor.start()

    def reset(self):
        """Returns (bytes client→registry, bytes registry→client, requests) and zeroes them."""
        with self.lock:
            got = (self.up, self.down, self.requests)
            self.up = self.down = self.requests = 0
            return got

    def _accept(self):
        while not self.stopping.is_set():
            try:
                client, _ = self.sock.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            try:
                server = socket.create_connection(self.upstream, timeout=10)
            except OSError:
                client.close()
                continue
            for s in (client, server):
                s.settimeout(None)
            with self.lock:
                self.conns += [client, server]
            for src, dst, up in ((client, server, True), (server, client, False)):
                t = threading.Thread(target=self._pump, args=(src, dst, up), daemon=True)
                t.start()
                self.threads.append(t)

    def _pump(self, src, dst, up):
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    break
                with self.lock:
                    if up:
                        self.up += len(data)
                        # Each request line ends with the protocol; bodies rarely carry it.
                        self.requests += data.count(b" HTTP/1.1\r\n")
                    else:
                        self.down += len(data)
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def close(self):
        self.stopping.set()
        self.sock.close()
        self.acceptor.join(timeout=2)
        with self.lock:
            conns = list(self.conns)
        for s in conns:
            try:
                s.close()
            except OSError:
                pass
        for t in self.threads:
            t.join(timeout=2)
