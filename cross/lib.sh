# Sourced by the cross/ scripts (not run): what they share.

# apt_install PKG… — installs Debian packages without recommends (one `apt-get update`
# and a retry when the package lists are stale or missing); as root only: otherwise it
# stops naming the packages and the command that installs them.
apt_install() {
  if [ "$(id -u)" -ne 0 ]; then
    echo "error: $* missing; install it (apt-get install $*) or run as root" >&2
    exit 1
  fi
  echo "== installing $*"
  DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "$@" >/dev/null \
    || { apt-get update >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "$@" >/dev/null; }
}
