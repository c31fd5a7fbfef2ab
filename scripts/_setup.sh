# The setup scripts/test and scripts/demo share, on a fresh Debian machine with
# Python >= 3.11. Sourced by them (it is not a command of its own); idempotent:
#   - the working directory becomes the repository's root;
#   - apt_install PACKAGE... installs Debian packages with apt-get, as root or through
#     sudo (nothing when given none);
#   - venv_setup makes the virtual environment $venv (.venv, or OPENPROTOCOLS_VENV) with
#     $python (python3, or PYTHON) and installs the project into it, editable, with its
#     `test` extra (Radicale, Xandikos, pymap, aiosmtpd...).

cd "$(dirname "${BASH_SOURCE[0]}")/.."

python=${PYTHON:-python3}
venv=${OPENPROTOCOLS_VENV:-.venv}

apt_install() {
    [ $# -gt 0 ] || return 0
    local sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    echo "scripts/$(basename "$0"): installing $*" >&2
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

venv_setup() {
    if [ ! -x "$venv/bin/python" ]; then
        # Debian's own Python makes virtual environments only with python3-venv.
        "$python" -c "import ensurepip" 2>/dev/null || apt_install python3-venv
        "$python" -m venv "$venv"
    fi
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check --upgrade pip
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check -e '.[test]'
}
