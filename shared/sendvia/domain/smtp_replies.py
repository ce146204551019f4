"""What a mail server's answer means for the person and for retries: the cause of an SMTP reply
(RFC 5321 reply codes, RFC 3463 enhanced status codes, and the providers' own), and the fix for
each cause, because the servers' own words rarely say what to do (docs/sources.md, 001: "no
indication as to why the connection failed"). Pure, table-tested; which kind each cause is lives in
domain/failures.py.
"""

from __future__ import annotations

HINTS = {
    "host_not_allowed": "Use your provider's public server name; addresses inside private or "
    "internal networks are not allowed.",
    "unreachable": "Check the server name and port with your provider's settings (for Gmail: "
    "smtp.gmail.com 587 and imap.gmail.com 993; Office 365: smtp.office365.com "
    "587 and outlook.office365.com 993).",
    "timeout": "The server did not answer in time. Check the port and that the server accepts "
    "connections from the internet; then try again.",
    "tls_mismatch": "Ports 465 and 993 use TLS from the start ('tls'); ports 587 and 143 start "
    "plain and switch with STARTTLS ('starttls'). Match the security setting "
    "to the port.",
    "certificate_untrusted": "The server's certificate is not from a trusted authority or does "
    "not match the server name. Use the provider's official server "
    "name.",
    "wrong_password": "Check the user name (usually the full email address, with no spaces) and "
    "the password. If 2-Step Verification is on, create an app password and "
    "use it here.",
    "app_password_required": "2-Step Verification is on for this account: create an app "
    "password in the account's security settings and enter it here "
    "instead of the normal password.",
    "basic_auth_disabled": "Microsoft has switched off SMTP AUTH (basic authentication, which "
    "app passwords use) for this mailbox or tenant, and is retiring it. Switch this mailbox to "
    "Sign in with Microsoft: it keeps its address and settings, and the stored password is "
    "destroyed once the sign-in works.",
    "auth_not_offered": "The server does not offer to log in on this connection; it may need "
    "STARTTLS or another port.",
    "server_unavailable": "The server refused new connections for now; try again later.",
    "server_busy": "Many emails are going out through this server at once; it is retried.",
    "temporary_failure": "The server refused for now (a temporary error); try again later.",
    "rejected": "The server refused the message; its reply says why.",
    "unexpected": "Something unexpected failed with this message; it is not retried. If it "
    "keeps happening, contact support.",
    "connection_dropped": "The server closed the connection in the middle; try again, and check "
    "the provider's sending limits.",
    "folder_missing": "Pick the Sent folder from the list of folders on the server.",
    "imap_error": "The IMAP server answered with an error; its reply says which.",
    "no_imap": "Add the IMAP server in the mailbox settings.",
    "quota_exceeded": "The mailbox's sending limit is reached; sending resumes when it resets.",
}


def classify_reply(code: int, text: str, *, at_login: bool = False) -> str:
    """The cause of an SMTP reply (RFC 5321 codes, RFC 3463 enhanced status codes)."""
    if "5.7.139" in text or "5.7.30" in text:  # Microsoft: SMTP AUTH / basic auth is off
        return "basic_auth_disabled"
    if code == 534 or "5.7.9" in text or "application-specific" in text.lower():  # Google
        return "app_password_required"
    if at_login or code == 535:
        return "wrong_password"
    # Sending limits: Gmail's daily limit over SMTP is 550 5.4.5; Microsoft throttles with 4.3.2
    # (their documented limits). Waiting is the fix, not a retry storm or a failed email.
    if "5.4.5" in text or "4.3.2" in text:
        return "quota_exceeded"
    if code == 421:
        return "server_unavailable"
    return "temporary_failure" if 400 <= code < 500 else "rejected"
