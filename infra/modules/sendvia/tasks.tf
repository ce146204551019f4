# The deliveries queue: Terraform's, not the functions' (they only enqueue). Its numbers come from
# sendvia/queue.json, which deliver reads too: it fails an email on the last attempt this queue
# allows (tests/infra checks both read the same file).
resource "google_cloud_tasks_queue" "deliveries" {
  project  = var.project_id
  location = var.region
  name     = local.queue.name

  retry_config {
    max_attempts       = local.queue.max_attempts
    min_backoff        = "${local.queue.min_backoff_s}s"
    max_backoff        = "${local.queue.max_backoff_s}s"
    max_doublings      = local.queue.max_doublings
    max_retry_duration = "${local.queue.max_retry_duration_s}s"
  }

  rate_limits {
    max_dispatches_per_second = local.queue.max_dispatches_per_s
    max_concurrent_dispatches = local.queue.max_concurrent
  }

  stackdriver_logging_config {
    sampling_ratio = 0.1
  }

  depends_on = [google_project_service.api]
}

# Receiving's queue: one task per mailbox sync (sendvia/queue.json `sync`), apart from the
# deliveries so that a backfill never holds an email back, nor an email burst a sync.
resource "google_cloud_tasks_queue" "sync" {
  project  = var.project_id
  location = var.region
  name     = local.queue.sync.name

  retry_config {
    max_attempts       = local.queue.sync.max_attempts
    min_backoff        = "${local.queue.sync.min_backoff_s}s"
    max_backoff        = "${local.queue.sync.max_backoff_s}s"
    max_doublings      = local.queue.sync.max_doublings
    max_retry_duration = "${local.queue.sync.max_retry_duration_s}s"
  }

  rate_limits {
    max_dispatches_per_second = local.queue.sync.max_dispatches_per_s
    max_concurrent_dispatches = local.queue.sync.max_concurrent
  }

  stackdriver_logging_config {
    sampling_ratio = 0.1
  }

  depends_on = [google_project_service.api]
}
