"""Make realistic sample traffic with real programs, for the demo.

- nginx (Debian's) serves a small site on loopback and writes a combined access log that the
  collector tails; benign visitors (browser user agents, from 127.0.0.10) and attackers (curl
  with traversal, SQL injection, XSS, JNDI and shell payloads from 127.0.0.23; a scanner user
  agent from 127.0.0.22) request it.
- ``logger`` (util-linux) sends sshd and sudo messages over TCP with octet-counted RFC 5424 framing
  to the collector's syslog port: an admin logging in, and a password-guessing burst from
  127.0.0.31.

Every address is on the loopback network; every loop is bounded.
"""

from __future__ import annotations

import http.client
import os
import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

PAGES = ("/", "/about.html", "/products/1.html", "/products/2.html", "/products/3.html", "/blog/index.html",
         "/css/site.css", "/js/app.js", "/contact.html", "/login.html")
BROWSERS = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Safari/537.36",
    "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148",
)
ATTACKS = (
    "/../../etc/passwd", "/static/..%2f..%2f..%2fetc%2fpasswd", "/products/1.html?id=1%27%20OR%20%271%27=%271",
    "/search?q=%3Cscript%3Ealert(1)%3C%2Fscript%3E", "/search?q=1%20UNION%20SELECT%20username,password%20FROM%20users",
    "/?x=%24%7Bjndi%3Aldap%3A%2F%2F127.0.0.1%3A1389%2Fa%7D", "/cgi-bin/test.cgi", "/.env", "/.git/config",
    "/wp-login.php", "/shell.php?cmd=id", "/index.php?page=php://filter/resource=index.php",
    "/search?q=%7B%7B7*7%7D%7D", "/backup.sql", "/phpmyadmin/index.php",
)
USERS = ("root", "admin", "oracle", "test", "ubuntu", "postgres", "guest")


@dataclass
class WebSite:
    folder: Path
    port: int
    process: subprocess.Popen[bytes] | None = None

    @property
    def access_log(self) -> Path:
        return self.folder / "logs" / "access.log"


def _write_site(folder: Path) -> None:
    html = folder / "html"
    for page in PAGES:
        path = html / page.lstrip("/")
        if page.endswith("/"):
            path = html / "index.html"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(f"<!doctype html><title>Demo shop</title><p>{page}</p>\n")
    for d in (folder, html, *html.rglob("*")):
        d.chmod(0o755 if d.is_dir() else 0o644)


def start_nginx(folder: Path, port: int) -> WebSite:
    """Run nginx in the foreground of a child process, with its own config, logs and PID file."""
    nginx = shutil.which("nginx") or "/usr/sbin/nginx"
    folder.mkdir(parents=True, exist_ok=True)
    folder.chmod(0o755)
    _write_site(folder)
    (folder / "logs").mkdir(exist_ok=True)
    (folder / "scratch").mkdir(exist_ok=True)
    user = "user www-data;\n" if os.geteuid() == 0 else ""
    conf = folder / "nginx.conf"
    conf.write_text(
        f"{user}worker_processes 1;\ndaemon off;\npid {folder}/nginx.pid;\nerror_log {folder}/logs/error.log notice;\n"
        "events { worker_connections 256; }\n"
        "http {\n"
        "  default_type text/html;\n"
        + "".join(f"  {kind}_temp_path {folder / 'scratch' / kind};\n"
                  for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")) +
        f"  access_log {folder}/logs/access.log combined;\n"
        f"  server {{ listen 127.0.0.1:{port}; server_name shop.demo.local; root {folder}/html;\n"
        "    location / { try_files $uri $uri/ =404; } }\n"
        "}\n"
    )
    proc = subprocess.Popen([nginx, "-c", str(conf), "-p", str(folder)], stdin=subprocess.DEVNULL,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    site = WebSite(folder, port, proc)
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            err = proc.stderr.read().decode(errors="replace")[:300] if proc.stderr else ""
            raise RuntimeError(f"nginx exited: {err}")
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2, source_address=("127.0.0.10", 0))
            conn.request("GET", "/")
            resp = conn.getresponse()
            resp.read()
            if resp.status != 200:
                stop_nginx(site)
                raise RuntimeError(f"nginx answers {resp.status} for its home page: the worker user cannot read "
                                   f"{folder / 'html'} (every folder above it must be traversable by others)")
            return site
        except OSError:
            time.sleep(0.1)
    stop_nginx(site)
    raise RuntimeError(f"nginx did not answer on 127.0.0.1:{port}")


def stop_nginx(site: WebSite) -> None:
    if site.process and site.process.poll() is None:
        site.process.terminate()
        try:
            site.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            site.process.kill()
            site.process.wait()


def browse(port: int, requests: int = 120, source: str = "127.0.0.10") -> int:
    """Benign visitors: pages and assets with browser user agents; a few stale links (404)."""
    done = 0
    for i in range(requests):
        path = PAGES[i % len(PAGES)] if i % 17 else "/products/old-offer.html"
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5, source_address=(source, 0))
        conn.request("GET", path, headers={"User-Agent": BROWSERS[i % len(BROWSERS)],
                                           "Referer": f"http://shop.demo.local:{port}/"})
        conn.getresponse().read()
        conn.close()
        done += 1
    return done


def attack(port: int, source: str = "127.0.0.23", scanner: str = "127.0.0.22") -> int:
    """Attack requests with curl (real client, arguments passed as a list: no shell)."""
    curl = shutil.which("curl") or "/usr/bin/curl"
    done = 0
    for path in ATTACKS:
        subprocess.run([curl, "-s", "-o", "/dev/null", "--path-as-is", "--max-time", "5", "--interface", source,
                        f"http://127.0.0.1:{port}{path}"], check=False, timeout=10)
        done += 1
    for path in ("/admin/", "/.git/HEAD", "/config.php.bak", "/server-status"):
        subprocess.run([curl, "-s", "-o", "/dev/null", "--max-time", "5", "--interface", scanner, "-A",
                        "Mozilla/5.00 (Nikto/2.1.5) (Evasions:None) (Test:000003)",
                        f"http://127.0.0.1:{port}{path}"], check=False, timeout=10)
        done += 1
    return done


def _logger(port: int, tag: str, pid: int, message: str, priority: str = "authpriv.info") -> None:
    logger = shutil.which("logger") or "/usr/bin/logger"
    subprocess.run([logger, "--rfc5424", "--tcp", "--octet-count", "-n", "127.0.0.1", "-P", str(port), "-p", priority,
                    "-t", tag, f"--id={pid}", "--", message], check=True, timeout=10)


def syslog_activity(port: int, guesses: int = 30) -> int:
    """An admin's logins and sudo, and a password-guessing burst against sshd."""
    sent = 0
    _logger(port, "sshd", 4101, "Accepted publickey for alice from 127.0.0.10 port 50122 ssh2: ED25519 SHA256:demo")
    _logger(port, "sudo", 4120,
            "   alice : TTY=pts/0 ; PWD=/home/alice ; USER=root ; COMMAND=/usr/bin/systemctl status nginx")
    sent += 2
    for i in range(guesses):
        user = USERS[i % len(USERS)]
        pid = 5000 + i // 3
        if user in ("root", "admin"):
            _logger(port, "sshd", pid, f"Failed password for {user} from 127.0.0.31 port {40000 + i} ssh2")
        else:
            _logger(port, "sshd", pid, f"Failed password for invalid user {user} from 127.0.0.31 port {40000 + i} ssh2")
        sent += 1
    _logger(port, "sshd", 4200, "Received disconnect from 127.0.0.31 port 40029:11: Bye Bye [preauth]")
    return sent + 1
