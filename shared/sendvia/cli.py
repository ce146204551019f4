"""The `sendvia` command line (developer tools for the local stack).

sendvia dev token --tenant T --uid U --role admin|member [--email E] [--name N]
"""

from __future__ import annotations

import argparse
import sys

from sendvia import devtools


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="sendvia", description="sendvia developer tools")
    commands = parser.add_subparsers(dest="group", required=True)
    dev = commands.add_parser("dev", help="tools for the local stack (make up)")
    dev_commands = dev.add_subparsers(dest="command", required=True)
    token = dev_commands.add_parser(
        "token",
        help="create a user with tenant/role claims in the Auth emulator; print an ID token",
    )
    token.add_argument("--tenant", required=True)
    token.add_argument("--uid", required=True)
    token.add_argument("--role", required=True, choices=["admin", "member"])
    token.add_argument("--email")
    token.add_argument("--name")
    args = parser.parse_args(argv)

    devtools.load_stack_env()
    try:
        print(
            devtools.id_token(
                tenant=args.tenant, uid=args.uid, role=args.role, email=args.email, name=args.name
            )
        )
    except devtools.DevToolError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
