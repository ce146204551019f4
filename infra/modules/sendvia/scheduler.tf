# The reminder batch: every 5 minutes (the batch looks 15 minutes ahead), with an OIDC token from
# the scheduler's service account whose audience is reminders' URL (what the function checks).
resource "google_cloud_scheduler_job" "reminders" {
  project          = var.project_id
  region           = var.region
  name             = "sendvia-reminders"
  description      = "Enqueue the scheduled emails due within 15 minutes; recover stranded ones."
  schedule         = var.reminders_schedule
  time_zone        = "Etc/UTC"
  attempt_deadline = "540s"

  retry_config {
    retry_count = 1
  }

  http_target {
    http_method = "POST"
    uri         = local.urls["reminders"]
    headers     = { "Content-Type" = "application/json" }
    body        = base64encode("{}")

    oidc_token {
      service_account_email = google_service_account.scheduler.email
      audience              = local.urls["reminders"]
    }
  }

  depends_on = [google_project_service.api]
}

# Receiving: every 10 minutes (SENDVIA_SYNC_INTERVAL_S names the same window), sync gives each
# receiving mailbox its task; a second call in the same window adds none.
resource "google_cloud_scheduler_job" "sync" {
  project          = var.project_id
  region           = var.region
  name             = "sendvia-sync"
  description      = "Sync every receiving mailbox: one Cloud Task per mailbox per window."
  schedule         = "*/10 * * * *"
  time_zone        = "Etc/UTC"
  attempt_deadline = "300s"

  retry_config {
    retry_count = 1
  }

  http_target {
    http_method = "POST"
    uri         = local.urls["sync"]
    headers     = { "Content-Type" = "application/json" }
    body        = base64encode("{}")

    oidc_token {
      service_account_email = google_service_account.scheduler.email
      audience              = local.urls["sync"]
    }
  }

  depends_on = [google_project_service.api]
}
