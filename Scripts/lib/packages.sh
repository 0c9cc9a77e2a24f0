# shellcheck shell=bash
# install_packages PKG...: installs the Debian packages among PKG that are missing
# (apt-get, through sudo when not root); on a system without dpkg, says what to install.
# Needs note and die from assets.sh.
install_packages() {
  if ! command -v dpkg-query >/dev/null 2>&1; then
    note "warning: not a Debian system (no dpkg-query); install the equivalents of: $*"
    return 0
  fi
  local missing=() pkg
  for pkg in "$@"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' || missing+=("$pkg")
  done
  if ((${#missing[@]} == 0)); then
    note "Debian packages: all present ($*)"
    return 0
  fi
  local sudo=()
  if ((EUID != 0)); then
    command -v sudo >/dev/null 2>&1 || die "need root or sudo to install: ${missing[*]}"
    sudo=(sudo)
  fi
  note "installing Debian packages: ${missing[*]}"
  "${sudo[@]}" apt-get update
  "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y "${missing[@]}"
}
