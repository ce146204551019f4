# The platform's own secrets: containers only. Their values never pass through Terraform (or its
# state): an operator adds them with `gcloud secrets versions add` (README, "Deploy").
locals {
  platform_secrets = {
    "google-oauth-client-secret" = "the OAuth client's secret, for \"Sign in with Google\""
    "microsoft-client-secret"    = "the Microsoft Entra app's client secret, for \"Sign in with Microsoft\""
    "relay-password"             = "the platform's sender's SMTP password (the email service's API key)"
    "task-ticket-key"            = "32 random bytes sealing a queued email into its Cloud Task, so deliver need not read it back"
  }
}

resource "google_secret_manager_secret" "platform" {
  for_each  = local.platform_secrets
  project   = var.project_id
  secret_id = "sendvia-${each.key}"
  labels    = { app = "sendvia" }

  annotations = {
    purpose = each.value
  }

  replication {
    auto {}
  }

  depends_on = [google_project_service.api]
}
