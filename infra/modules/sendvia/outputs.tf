output "function_urls" {
  description = "Each function's URL, by entry point: what the host product's frontends call (the run.app URLs the functions' own settings use)."
  value       = local.urls
  depends_on  = [google_cloudfunctions2_function.fn]
}

output "oauth_redirect_uri" {
  description = "Register this as an authorized redirect URI of the OAuth client (Google Cloud console)."
  value       = local.urls["oauth_callback"]
}

output "platform_secrets" {
  description = "Secret Manager secrets to give a value: gcloud secrets versions add NAME --data-file=-"
  value       = { for key, secret in google_secret_manager_secret.platform : key => secret.secret_id }
}

output "service_accounts" {
  description = "Each function's identity, and the internal callers'."
  value = merge(
    { for name, sa in google_service_account.function : name => sa.email },
    {
      tasks_invoker = google_service_account.tasks_invoker.email
      scheduler     = google_service_account.scheduler.email
    },
  )
}

output "queue" {
  description = "The deliveries queue."
  value       = google_cloud_tasks_queue.deliveries.id
}
