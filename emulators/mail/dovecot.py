"""A private Dovecot for the local stack: IMAP and SMTP submission with app passwords.

Its own base_dir and config under the stack folder, listening on 127.0.0.1 only: IMAP with
STARTTLS and with implicit TLS, submission with STARTTLS (587-style) and implicit TLS (465-style),
users in a passwd-file with app passwords, Maildir with a Sent folder marked `\\Sent`, and relaying
to the stack's sink ("the internet"). Run in the foreground as a child (`dovecot -F`): daemonised it
left zombies. No login delay on failures, so wrong-password tests stay fast.
"""

from __future__ import annotations

import os
import pwd
import secrets
import string
import time
from pathlib import Path

from emulators.mail.tls import Certificates

DOMAIN = "clinic.test"
DEMO_USER = f"reception@{DOMAIN}"
_DH = Path("/usr/share/dovecot/dh.pem")


def app_password() -> str:
    """Like Google's app passwords: 16 lowercase letters."""
    return "".join(secrets.choice(string.ascii_lowercase) for _ in range(16))


def users_file(folder: Path) -> Path:
    return folder / "users"


def add_user(folder: Path, address: str, password: str | None = None) -> str:
    """Add (or reset) a mail user; Dovecot re-reads the passwd-file when it changes."""
    address = address.strip().lower()
    if "@" not in address or ":" in address or any(c.isspace() for c in address):
        raise ValueError(f"{address!r} is not an email address")
    password = password or app_password()
    path = users_file(folder)
    lines = [
        line
        for line in (path.read_text().splitlines() if path.exists() else [])
        if not line.startswith(f"{address}:")
    ]
    lines.append(f"{address}:{{PLAIN}}{password}::::::")
    path.touch(mode=0o600)
    path.write_text("\n".join(lines) + "\n")
    _give_to_dovecot(path)
    # Dovecot looks at the passwd-file's stamp at most once a second: past the next second
    # boundary, a login is sure to see the new user.
    time.sleep(1.05 - (time.time() % 1.0))
    return password


def _give_to_dovecot(path: Path) -> None:
    """Dovecot's auth process runs as its own user and must read the passwd-file."""
    account = pwd.getpwnam("dovecot")
    os.chown(path, account.pw_uid, account.pw_gid)


def write_config(folder: Path, certs: Certificates, ports: dict[str, int]) -> Path:
    """The Dovecot configuration of one stack; returns its path."""
    for sub in ("run", "mail", "state"):
        (folder / sub).mkdir(parents=True, exist_ok=True)
    (folder / "mail").chmod(0o777)
    if not users_file(folder).exists():
        users_file(folder).touch(mode=0o600)
        _give_to_dovecot(users_file(folder))
    config = f"""
base_dir = {folder}/run
state_dir = {folder}/state
instance_name = sendvia-{ports["imap"]}
listen = 127.0.0.1
protocols = imap submission lmtp
log_path = /dev/stderr
info_log_path = /dev/stderr
hostname = mail.{DOMAIN}
first_valid_uid = 100
mail_uid = dovecot
mail_gid = dovecot
mail_location = maildir:{folder}/mail/%d/%n/Maildir

ssl = yes
ssl_cert = <{certs.cert}
ssl_key = <{certs.key}
ssl_dh = <{_DH}
ssl_min_protocol = TLSv1.2

auth_mechanisms = plain login
disable_plaintext_auth = yes
auth_failure_delay = 0
auth_cache_size = 0
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%Lu {users_file(folder)}
}}
userdb {{
  driver = static
  args = uid=dovecot gid=dovecot home={folder}/mail/%d/%n
}}

namespace inbox {{
  inbox = yes
  separator = /
  mailbox Sent {{
    special_use = \\Sent
    auto = subscribe
  }}
  mailbox Drafts {{
    special_use = \\Drafts
    auto = subscribe
  }}
  mailbox Trash {{
    special_use = \\Trash
    auto = subscribe
  }}
  mailbox "Sent Items" {{
    auto = no
  }}
}}

submission_relay_host = 127.0.0.1
submission_relay_port = {ports["mail_sink"]}
submission_relay_trusted = yes
submission_relay_ssl = no

service imap-login {{
  inet_listener imap {{
    port = {ports["imap"]}
  }}
  inet_listener imaps {{
    port = {ports["imaps"]}
    ssl = yes
  }}
}}
service submission-login {{
  inet_listener submission {{
    port = {ports["submission"]}
  }}
  inet_listener submissions {{
    port = {ports["submissions"]}
    ssl = yes
  }}
}}
# Inbound delivery, so mail can "arrive" (`sendvia dev mail deliver`, the sink's bounces).
service lmtp {{
  inet_listener lmtp {{
    address = 127.0.0.1
    port = {ports["lmtp"]}
  }}
}}
protocol lmtp {{
  postmaster_address = postmaster@{DOMAIN}
}}

service anvil {{
  # no growing delays after failed logins from the tests' address
  unix_listener anvil-auth-penalty {{
    mode = 0
  }}
}}
service stats {{
  unix_listener stats-writer {{
    mode = 0666
  }}
}}
"""
    path = folder / "dovecot.conf"
    path.write_text(config)
    return path


def main() -> None:
    import argparse

    parser = argparse.ArgumentParser(description="Mail users of the stack's Dovecot")
    parser.add_argument("command", choices=["add-user"])
    parser.add_argument("address")
    parser.add_argument("--folder", type=Path, required=True, help="the stack's dovecot folder")
    args = parser.parse_args()
    try:
        print(add_user(args.folder, args.address))
    except ValueError as exc:
        raise SystemExit(f"error: {exc}") from exc


if __name__ == "__main__":
    main()
