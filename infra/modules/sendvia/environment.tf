# What config.load() reads, for every function (each loads the whole configuration at cold start,
# so a function missing a setting would not start). tests/infra holds this map against the code.
locals {
  google_configured    = var.google_oauth_client_id != ""
  microsoft_configured = var.microsoft_client_id != ""

  environment = merge(
    local.environment_base,
    local.google_configured ? local.environment_google : {},
    local.microsoft_configured ? local.environment_microsoft : {},
  )

  environment_base = {
    # Python runtimes since 3.8 do not set it; config.load() requires it.
    GOOGLE_CLOUD_PROJECT    = var.project_id
    SENDVIA_PLATFORM_DOMAIN = var.platform_domain
    SENDVIA_PRODUCT_NAME    = var.product_name
    SENDVIA_CORS_ORIGINS    = join(",", var.cors_origins)

    # The platform's sender; its password is read from Secret Manager by the functions.
    SENDVIA_RELAY_HOST       = var.relay.host
    SENDVIA_RELAY_PORT       = tostring(var.relay.port)
    SENDVIA_RELAY_SECURITY   = var.relay.security
    SENDVIA_RELAY_USERNAME   = var.relay.username
    SENDVIA_RELAY_PASSWORD   = "${google_secret_manager_secret.platform["relay-password"].id}/versions/latest"
    SENDVIA_RELAY_EVENT_ARGS = var.relay.event_args

    # Triggered emails: the queue (sendvia/queue.json) and the caller deliver accepts.
    SENDVIA_DELIVER_URL           = local.urls["deliver"]
    SENDVIA_TASKS_SERVICE_ACCOUNT = google_service_account.tasks_invoker.email
    SENDVIA_TASKS_LOCATION        = var.region
    SENDVIA_TASKS_QUEUE           = google_cloud_tasks_queue.deliveries.name
    # Seals each queued email into its task (decision 0009); without a version, tasks carry ids.
    SENDVIA_TASKS_TICKET_KEY = "${google_secret_manager_secret.platform["task-ticket-key"].id}/versions/latest"

    # The caller reminders accepts, and the audience it signs for.
    SENDVIA_SCHEDULER_SERVICE_ACCOUNT = google_service_account.scheduler.email
    SENDVIA_REMINDERS_URL             = local.urls["reminders"]

    # Receiving: sync's tasks, on a queue of their own, aimed at sync's URL.
    SENDVIA_SYNC_URL   = local.urls["sync"]
    SENDVIA_SYNC_QUEUE = google_cloud_tasks_queue.sync.name

    # The email service's webhooks (provider_events).
    SENDVIA_SENDGRID_PUBLIC_KEY = var.sendgrid_public_key
    SENDVIA_SES_TOPIC_ARNS      = join(",", var.ses_topic_arns)
  }

  # "Sign in with Google": the client secret stays in Secret Manager.
  environment_google = {
    SENDVIA_GOOGLE_CLIENT_ID     = var.google_oauth_client_id
    SENDVIA_GOOGLE_CLIENT_SECRET = "${google_secret_manager_secret.platform["google-oauth-client-secret"].id}/versions/latest"
    SENDVIA_OAUTH_CALLBACK_URL   = local.urls["oauth_callback"]
  }

  # "Sign in with Microsoft" and Graph: the app's secret stays in Secret Manager.
  environment_microsoft = {
    SENDVIA_MICROSOFT_CLIENT_ID     = var.microsoft_client_id
    SENDVIA_MICROSOFT_CLIENT_SECRET = "${google_secret_manager_secret.platform["microsoft-client-secret"].id}/versions/latest"
    SENDVIA_MICROSOFT_TENANT        = var.microsoft_tenant
    SENDVIA_OAUTH_CALLBACK_URL      = local.urls["oauth_callback"]
  }
}
