#!/usr/bin/env bash
# Installs the Debian packages that some tests talk to (Mosquitto, kcat, Prometheus) when they
# are missing and we are root; otherwise says loudly which tests will be skipped and why.
set -u
need=()
command -v mosquitto >/dev/null 2>&1 || need+=(mosquitto)
command -v mosquitto_sub >/dev/null 2>&1 || need+=(mosquitto-clients)
command -v kcat >/dev/null 2>&1 || need+=(kcat)
command -v prometheus >/dev/null 2>&1 || need+=(prometheus)
command -v influxd >/dev/null 2>&1 || need+=(influxdb)
/usr/bin/python3 -c 'import pandas' >/dev/null 2>&1 || need+=(python3-pandas)
command -v promtool >/dev/null 2>&1 || { [[ " ${need[*]} " == *" prometheus "* ]] || need+=(prometheus); }
[ ${#need[@]} -eq 0 ] && { echo "test deps: mosquitto, kcat, prometheus, influxdb, python3-pandas present"; exit 0; }
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "test deps: installing ${need[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >/dev/null && apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null && exit 0
  echo "test deps: apt-get install ${need[*]} failed" >&2
fi
cat >&2 <<MSG
######################################################################################
#  WARNING: ${need[*]} not installed (not root, or apt-get failed).
#  Tests that need them are SKIPPED: Mosquitto broker tests, kcat interop tests,
#  Prometheus scrape and promtool rule checks, real InfluxDB 1.x writes, loading the files sink output with pandas. Install with:
#      sudo apt-get install -y ${need[*]}
######################################################################################
MSG
exit 0
