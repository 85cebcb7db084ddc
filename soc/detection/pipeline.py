"""Sigma → ECS, declared as data: which target each logsource searches and which field each Sigma field is.

The same data builds the pySigma processing pipeline the engine converts with and the YAML pipeline
file shipped beside this module (``soc_pipeline.yml``), which ``sigma convert -t opensearch -p`` accepts,
so an engineer converting a rule by hand gets exactly the engine's query string.

Matching semantics on our mapping (proved by tests against a real node):

* Fields of kind ``ci_keyword`` are lower-cased by their normalizer at index time, and OpenSearch
  normalizes wildcard, prefix and regex terms of ``query_string`` on them too: Sigma's
  case-insensitive matching holds there with no rewriting.
* Keyword-only detections (no field) search the raw line, ``event.original.keyword``, which is
  case-sensitive: their values are turned into regular expressions with ``[aA]`` bracket pairs.
  Lucene regex operators that Python's ``re.escape`` leaves alone (``@ < >``) are escaped by the
  post-processing; ``"`` becomes a single-character wildcard.
* ``|re|i`` on the raw line is spelled case-insensitively (``[aA]``, classes with both cases) by a
  template post-processing step, since Lucene regexes have no ``(?i)``.
* Lucene regexes are anchored; Sigma's are not: the post-processing wraps every regex in ``.*``
  unless it starts with ``^`` / ends with ``$``, and drops ``(?i)``-style flag groups (the
  normalized fields already match case-insensitively).

The query string is what sigma-cli prints and what an analyst can paste into a search bar. The
engine runs it rebuilt as DSL (``soc.detection.dsl``): the same leaves, with infix wildcards and
regexes moved to the lower-cased ``wildcard`` sub-fields (``soc.ecs.PATTERN_FIELDS``) and the
``[aA]``-spelled raw-line keywords turned back into lower-cased wildcards on
``event.original.wildcard``, so their cost follows the detection window instead of the index.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml
from sigma.processing.pipeline import ProcessingPipeline

from soc import ecs

PIPELINE_FILE = Path(__file__).with_name("soc_pipeline.yml")
RAW_LINE_FIELD = "event.original.keyword"


@dataclass(frozen=True)
class LogSource:
    """One Sigma logsource the engine can search: its logical data stream(s) and the filter that narrows it."""

    key: str
    category: str | None
    product: str | None
    service: str | None
    streams: tuple[str, ...]
    process_names: tuple[str, ...] = ()
    fields: dict[str, str | list[str]] = field(default_factory=dict)


WEB_FIELDS: dict[str, str | list[str]] = {
    # Public rules put the path and the query in cs-uri-query and c-uri (values start with "/"),
    # and write payloads both raw and percent-encoded: search the raw and the decoded URL.
    "cs-uri-query": ["url.original", "url.decoded.original"],
    "c-uri": ["url.original", "url.decoded.original"],
    "cs-uri": ["url.original", "url.decoded.original"],
    "uri": ["url.original", "url.decoded.original"],
    "cs-uri-stem": ["url.path", "url.decoded.path"],
    "c-uri-stem": ["url.path", "url.decoded.path"],
    "c-uri-query": ["url.query", "url.decoded.query"],
    "c-ip": "source.ip",
    "clientip": "source.ip",
    "src_ip": "source.ip",
    "cs-method": "http.request.method",
    "sc-status": "http.response.status_code",
    "c-useragent": "user_agent.original",
    "cs-user-agent": "user_agent.original",
    "cs(User-Agent)": "user_agent.original",
    "cs-referer": "http.request.referrer",
    "cs(Referer)": "http.request.referrer",
    "cs-host": "url.domain",
    "cs(Host)": "url.domain",
    "cs-version": "http.version",
    "cs-content-type": "http.request.mime_type",
    "cs(Content-Type)": "http.request.mime_type",
    "cs-bytes": "http.request.body.bytes",
    "sc-bytes": "http.response.body.bytes",
    "cs-username": "user.name",
    "s-ip": "host.ip",
}

LINUX_FIELDS: dict[str, str | list[str]] = {
    "USER": ["user.effective.name", "user.target.name"],  # sudo's target user
    "COMMAND": "process.command_line.keyword",
    "TTY": "process.working_directory",
    "host": "host.name",
    "hostname": "host.name",
    "pid": "process.pid",
    "user": "user.name",
    "program": "process.name",
    "message": RAW_LINE_FIELD,
}

_AUTH = ("sshd", "sudo", "su", "login", "passwd", "chpasswd", "chage", "useradd", "userdel", "usermod",
         "groupadd", "groupdel", "groupmod", "gpasswd", "systemd-logind", "pkexec", "polkitd", "cron")

LOGSOURCES: tuple[LogSource, ...] = (
    LogSource("webserver", "webserver", None, None, ("logs-web",), fields=WEB_FIELDS),
    LogSource("nginx", None, None, "nginx", ("logs-web", "logs-syslog"), fields=WEB_FIELDS),
    LogSource("apache", None, None, "apache", ("logs-web", "logs-syslog"), fields=WEB_FIELDS),
    LogSource("linux-sshd", None, "linux", "sshd", ("logs-syslog",), ("sshd",), LINUX_FIELDS),
    LogSource("linux-sudo", None, "linux", "sudo", ("logs-syslog",), ("sudo",), LINUX_FIELDS),
    LogSource("linux-su", None, "linux", "su", ("logs-syslog",), ("su",), LINUX_FIELDS),
    LogSource("linux-cron", None, "linux", "cron", ("logs-syslog",), ("cron", "crond", "crontab"), LINUX_FIELDS),
    LogSource("linux-auth", None, "linux", "auth", ("logs-syslog",), _AUTH, LINUX_FIELDS),
    LogSource("linux-vsftpd", None, "linux", "vsftpd", ("logs-syslog",), ("vsftpd",), LINUX_FIELDS),
    LogSource("linux-clamav", None, "linux", "clamav", ("logs-syslog",), ("clamd", "freshclam", "clamav"),
              LINUX_FIELDS),
    LogSource("linux-guacamole", None, "linux", "guacamole", ("logs-syslog",), ("guacd", "guacamole"), LINUX_FIELDS),
    LogSource("linux-named", None, "linux", "named", ("logs-syslog",), ("named",), LINUX_FIELDS),
    LogSource("linux-syslog", None, "linux", "syslog", ("logs-syslog",), fields=LINUX_FIELDS),
    LogSource("linux", None, "linux", None, ("logs-syslog",), fields=LINUX_FIELDS),
)

# Keyword fields without the lower-case normalizer whose values are conventionally upper case.
UPPER_CASE_FIELDS = ("http.request.method",)
# Lucene regex characters that re.escape leaves alone; in raw-line keywords they match any one character.
_LUCENE_REGEX_RESERVED = r'["]'


# A Jinja template (pySigma's "template" postprocessing, so sigma-cli applies it too) that rewrites
# every ``event.original.keyword:/(?i)REGEX/`` of a query: a letter outside a class becomes ``[aA]``;
# a class gets its letters' other case added (``[a-f0-9]`` -> ``[a-f0-9A-F0-9]``, ``[^a-z]`` ->
# ``[^a-zA-Z]``); escapes (``\d``, ``\.``, ``\/``) are kept as they are. The regex ends at
# the first unescaped ``/``. Lucene regexes have no case-insensitive flag; this is the equivalent.
RAW_LINE_IGNORE_CASE = r"""{%- set marker = "event.original.keyword:/(?i)" -%}
{%- set parts = query.split(marker) -%}
{%- set ns = namespace(out=parts[0]) -%}
{%- for part in parts[1:] -%}
{%- set st = namespace(out="", done=false, esc=false, cls=false, buf="", swap="") -%}
{%- for ch in part -%}
{%- if st.done -%}{%- set st.out = st.out ~ ch -%}
{%- elif st.esc -%}
{%- if st.cls -%}{%- set st.buf = st.buf ~ "\\" ~ ch -%}{%- set st.swap = st.swap ~ "\\" ~ ch -%}
{%- else -%}{%- set st.out = st.out ~ "\\" ~ ch -%}{%- endif -%}
{%- set st.esc = false -%}
{%- elif ch == "\\" -%}{%- set st.esc = true -%}
{%- elif st.cls -%}
{%- if ch == "]" and st.buf not in ("", "^") -%}
{%- set st.out = st.out ~ "[" ~ st.buf ~ st.swap ~ "]" -%}{%- set st.cls = false -%}
{%- elif ch == "^" and st.buf == "" -%}{%- set st.buf = "^" -%}
{%- else -%}{%- set st.buf = st.buf ~ ch -%}{%- set st.swap = st.swap ~ ch.swapcase() -%}{%- endif -%}
{%- elif ch == "[" -%}{%- set st.cls = true -%}{%- set st.buf = "" -%}{%- set st.swap = "" -%}
{%- elif ch == "/" -%}{%- set st.out = st.out ~ ch -%}{%- set st.done = true -%}
{%- elif ch.lower() != ch.upper() -%}{%- set st.out = st.out ~ "[" ~ ch.lower() ~ ch.upper() ~ "]" -%}
{%- else -%}{%- set st.out = st.out ~ ch -%}{%- endif -%}
{%- endfor -%}
{%- set ns.out = ns.out ~ "event.original.keyword:/" ~ st.out -%}
{%- endfor -%}
{{- ns.out -}}"""


def find_logsource(category: str | None, product: str | None, service: str | None) -> LogSource | None:
    """The most specific entry for a rule's logsource, or None when the engine cannot search it."""
    for source in LOGSOURCES:
        if (source.category, source.product, source.service) == (category, product, service):
            return source
    if category is None and product == "linux" and service is not None:
        return None  # a service we do not know: unsupported, never widened to all of syslog
    return None


def _logsource_condition(source: LogSource) -> dict[str, Any]:
    cond: dict[str, Any] = {"type": "logsource"}
    for key in ("category", "product", "service"):
        value = getattr(source, key)
        if value is not None:
            cond[key] = value
    return cond


def pipeline_dict() -> dict[str, Any]:
    """The processing pipeline as plain data (the YAML file is this, dumped)."""
    items: list[dict[str, Any]] = []
    for source in LOGSOURCES:
        cond = [_logsource_condition(source)]
        if source.process_names:
            items.append({"id": f"{source.key}-filter", "type": "add_condition",
                          "conditions": {"process.name": list(source.process_names)},
                          "rule_conditions": cond})
        items.append({"id": f"{source.key}-fields", "type": "field_name_mapping",
                      "mapping": dict(source.fields), "rule_conditions": cond})
    items += [
        {"id": "keywords-to-raw-line", "type": "field_name_mapping", "mapping": {None: RAW_LINE_FIELD}},
        {"id": "raw-line-reserved-chars", "type": "replace_string", "regex": _LUCENE_REGEX_RESERVED,
         "replacement": "?", "skip_special": True, "interpret_special": True,
         "field_name_conditions": [{"type": "include_fields", "fields": [RAW_LINE_FIELD]}]},
        {"id": "raw-line-case-insensitive", "type": "regex", "method": "ignore_case_brackets",
         "field_name_conditions": [{"type": "include_fields", "fields": [RAW_LINE_FIELD]}]},
        {"id": "upper-case-keywords", "type": "case", "method": "upper",
         "field_name_conditions": [{"type": "include_fields", "fields": list(UPPER_CASE_FIELDS)}]},
    ]
    post = [
        # |re|i on the raw line (case-sensitive keyword): spell the regex case-insensitively first.
        {"type": "template", "template": RAW_LINE_IGNORE_CASE},
        # Flags: the lower-case normalizer gives case-insensitivity; Lucene has no flag groups.
        {"type": "replace", "pattern": r":/\(\?[ims]+\)", "replacement": ":/"},
        # Sigma regexes search; Lucene's match the whole term. Open end, then closed end.
        {"type": "replace", "pattern": r":/(?!\^)", "replacement": ":/.*"},
        {"type": "replace", "pattern": r":/\^", "replacement": ":/"},
        {"type": "replace", "pattern": r"(?<![\\$])/(?=[)\s]|$)", "replacement": ".*/"},
        {"type": "replace", "pattern": r"(?<!\\)\$/(?=[)\s]|$)", "replacement": "/"},
        # Lucene regex operators that are literals in Sigma's (PCRE) syntax.
        {"type": "replace", "pattern": r"(?<!\\)([@<>])", "replacement": r"\\\1"},
    ]
    return {"name": "SOC Sigma to ECS (OpenSearch)", "priority": 20, "transformations": items,
            "postprocessing": post}


class _NoAliases(yaml.SafeDumper):
    def ignore_aliases(self, data: Any) -> bool:
        return True


def pipeline_yaml() -> str:
    header = ("# Generated from soc/detection/pipeline.py; do not edit by hand (a test checks it).\n"
              "# Use: sigma convert -t opensearch -p soc/detection/soc_pipeline.yml RULE.yml\n")
    return header + yaml.dump(pipeline_dict(), Dumper=_NoAliases, sort_keys=False, allow_unicode=True, width=200)


@lru_cache(maxsize=1)
def processing_pipeline() -> ProcessingPipeline:
    return ProcessingPipeline.from_dict(pipeline_dict())


def unknown_fields(fields: list[str]) -> list[str]:
    """Mapped field names that our ECS list does not own (a rule using them cannot match)."""
    known = set(ecs.FIELDS) | {RAW_LINE_FIELD, "process.command_line.keyword"}
    return sorted({f for f in fields if f not in known})
