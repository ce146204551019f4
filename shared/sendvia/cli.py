"""The `sendvia` command line (developer tools for the local stack).

sendvia dev token --tenant T --uid U --role admin|member [--email E] [--name N] [--password P]
sendvia dev connect-gmail --tenant T --uid U [--mailbox tenant|me] [--receive]
sendvia dev connect-microsoft --tenant T --uid U [--mailbox tenant|me] [--receive]
sendvia dev mail deliver --to ADDRESS < message.eml   (mail arrives in a Dovecot mailbox)
sendvia dev mail undeliverable ADDRESS...   (mail to them bounces back to its sender's mailbox)
sendvia dev event bounce|soft-bounce|complaint|delivered|suppressed ADDRESS
                  [--provider sendgrid|ses] [--message-id ID]
"""

from __future__ import annotations

import argparse
import sys

from sendvia import devtools

# The sign-in each `connect-…` command starts, and the button its consent page names.
SIGN_INS = {"connect-gmail": "google", "connect-microsoft": "microsoft"}
CONSENT_BUTTONS = {"google": "Allow", "microsoft": "Accept"}


def _parser() -> argparse.ArgumentParser:
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
    token.add_argument(
        "--password", help="also let the user sign in with it (the reference app's sign-in page)"
    )

    gmail = dev_commands.add_parser(
        "connect-gmail",
        help="switch Gmail on for a tenant and print the Sign in with Google link to open",
    )
    gmail.add_argument("--tenant", required=True)
    gmail.add_argument("--uid", required=True, help="an admin of the tenant (created if new)")
    gmail.add_argument("--mailbox", choices=["tenant", "me"], default="tenant")
    gmail.add_argument("--receive", action="store_true", help="also ask to read mail")

    microsoft = dev_commands.add_parser(
        "connect-microsoft",
        help="switch Microsoft on for a tenant and print the Sign in with Microsoft link to open",
    )
    microsoft.add_argument("--tenant", required=True)
    microsoft.add_argument("--uid", required=True, help="an admin of the tenant (created if new)")
    microsoft.add_argument("--mailbox", choices=["tenant", "me"], default="tenant")
    microsoft.add_argument("--receive", action="store_true", help="also ask to read mail")

    mail_user = dev_commands.add_parser(
        "mail-user", help="users of the stack's mail server (Dovecot)"
    )
    mail_user.add_argument("action", choices=["add"])
    mail_user.add_argument("address")

    mail = dev_commands.add_parser("mail", help="make mail arrive in the stack's mailboxes")
    mail_actions = mail.add_subparsers(dest="action", required=True)
    deliver = mail_actions.add_parser(
        "deliver", help="deliver the message on standard input to a Dovecot mailbox (LMTP)"
    )
    deliver.add_argument("--to", required=True, help="a user of the stack's Dovecot")
    deliver.add_argument("--sender", default="", help="the envelope sender (default: none)")
    undeliverable = mail_actions.add_parser(
        "undeliverable",
        help="make the internet refuse these addresses: what is sent to them bounces back",
    )
    undeliverable.add_argument("addresses", nargs="+")

    event = dev_commands.add_parser(
        "event",
        help="post a signed email-service event (as SendGrid or SES would) to provider_events",
    )
    event.add_argument("kind", choices=devtools.EVENT_KINDS)
    event.add_argument("address")
    event.add_argument("--provider", choices=["sendgrid", "ses"], default="sendgrid")
    event.add_argument(
        "--message-id",
        help="the Message-ID of the email, to place it (default: the newest email the "
        "platform's relay took for the address)",
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    devtools.load_stack_env()
    try:
        if args.command == "token":
            print(
                devtools.id_token(
                    tenant=args.tenant,
                    uid=args.uid,
                    role=args.role,
                    email=args.email,
                    name=args.name,
                    password=args.password,
                )
            )
        elif args.command == "mail-user":
            print(devtools.add_mail_user(args.address))
        elif args.command == "mail" and args.action == "deliver":
            print(devtools.deliver_mail(args.to, sys.stdin.buffer.read(), sender=args.sender))
        elif args.command == "mail":
            print(devtools.make_undeliverable(args.addresses))
        elif args.command == "event":
            print(
                devtools.post_event(
                    args.kind, args.address, provider=args.provider, message_id=args.message_id
                )
            )
        else:
            provider = SIGN_INS[args.command]
            url = devtools.sign_in_link(
                tenant=args.tenant,
                uid=args.uid,
                mailbox=args.mailbox,
                receive=args.receive,
                provider=provider,
            )
            button = CONSENT_BUTTONS[provider]
            print(
                "Open this link in a browser (within 10 minutes), enter any email address on "
                f"the consent page and press {button}:\n"
            )
            print(url)
    except devtools.DevToolError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
