"""Where events come from: network listeners (syslog) feeding the collector pipeline."""
