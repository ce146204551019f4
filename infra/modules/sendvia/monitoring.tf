# What an operator must see. sendvia logs one JSON line per event with `event` set
# (sendvia.services: mailbox_broken, delivery_failed); Cloud Run and Cloud Tasks report the rest.
locals {
  log_metrics = {
    mailbox_broken  = "a mailbox's credentials stopped working (its tenant's admins are told)"
    delivery_failed = "a triggered email failed for good (its sender and the admins are told)"
  }
}

resource "google_logging_metric" "event" {
  for_each    = local.log_metrics
  project     = var.project_id
  name        = "sendvia/${each.key}"
  description = each.value
  filter      = "resource.type=\"cloud_run_revision\" AND jsonPayload.event=\"${each.key}\""

  metric_descriptor {
    metric_kind = "DELTA"
    value_type  = "INT64"
    unit        = "1"
    labels {
      key         = "cause"
      value_type  = "STRING"
      description = "The failure's code."
    }
  }

  label_extractors = {
    cause = "EXTRACT(jsonPayload.cause)"
  }
}

resource "google_monitoring_alert_policy" "mailboxes_breaking" {
  project               = var.project_id
  display_name          = "sendvia: mailboxes turning broken"
  combiner              = "OR"
  notification_channels = var.alert_notification_channels
  documentation {
    content = "Several mailboxes' credentials stopped working within an hour: a provider may be refusing this app (OAuth client suspended, consent screen changes) rather than each person's access. See the `cause` label."
  }
  conditions {
    display_name = "more than 5 mailboxes broken in an hour"
    condition_threshold {
      filter          = "metric.type=\"logging.googleapis.com/user/${google_logging_metric.event["mailbox_broken"].name}\" AND resource.type=\"cloud_run_revision\""
      comparison      = "COMPARISON_GT"
      threshold_value = 5
      duration        = "0s"
      aggregations {
        alignment_period     = "3600s"
        per_series_aligner   = "ALIGN_SUM"
        cross_series_reducer = "REDUCE_SUM"
      }
    }
  }
}

resource "google_monitoring_alert_policy" "deliveries_failing" {
  project               = var.project_id
  display_name          = "sendvia: deliveries failing permanently"
  combiner              = "OR"
  notification_channels = var.alert_notification_channels
  documentation {
    content = "Triggered emails are failing for good (retries spent, refused, credentials gone). Each sender was told; many at once point at the platform (the relay's credentials, a quota). See the `cause` label and GET /activity/deliveries?state=failed."
  }
  conditions {
    display_name = "more than 20 failed deliveries in an hour"
    condition_threshold {
      filter          = "metric.type=\"logging.googleapis.com/user/${google_logging_metric.event["delivery_failed"].name}\" AND resource.type=\"cloud_run_revision\""
      comparison      = "COMPARISON_GT"
      threshold_value = 20
      duration        = "0s"
      aggregations {
        alignment_period     = "3600s"
        per_series_aligner   = "ALIGN_SUM"
        cross_series_reducer = "REDUCE_SUM"
      }
    }
  }
}

resource "google_monitoring_alert_policy" "deliver_5xx" {
  project               = var.project_id
  display_name          = "sendvia: deliver answers 5xx"
  combiner              = "OR"
  notification_channels = var.alert_notification_channels
  documentation {
    content = "deliver is failing (not the emails: a failed email answers 200). Cloud Tasks retries, but nothing is sent meanwhile: look at deliver's logs (Firestore, Secret Manager or IAM errors)."
  }
  conditions {
    display_name = "deliver 5xx above 1 per second for 5 minutes"
    condition_threshold {
      filter          = "metric.type=\"run.googleapis.com/request_count\" AND resource.type=\"cloud_run_revision\" AND resource.labels.service_name=\"${google_cloudfunctions2_function.fn["deliver"].name}\" AND metric.labels.response_code_class=\"5xx\""
      comparison      = "COMPARISON_GT"
      threshold_value = 1
      duration        = "300s"
      aggregations {
        alignment_period     = "60s"
        per_series_aligner   = "ALIGN_RATE"
        cross_series_reducer = "REDUCE_SUM"
      }
    }
  }
}

# Cloud Tasks reports no "oldest task" age; the delay between a task's scheduled time and its
# attempt is the same signal: emails waiting in the queue longer than they should.
resource "google_monitoring_alert_policy" "queue_backlog" {
  project               = var.project_id
  display_name          = "sendvia: the deliveries queue falls behind"
  combiner              = "OR"
  notification_channels = var.alert_notification_channels
  documentation {
    content = "Tasks of the deliveries queue run more than 10 minutes after their time: deliver is too slow or failing, or its max instances are too low for the load."
  }
  conditions {
    display_name = "99th percentile attempt delay above 10 minutes"
    condition_threshold {
      filter          = "metric.type=\"cloudtasks.googleapis.com/queue/task_attempt_delays\" AND resource.type=\"cloud_tasks_queue\" AND resource.labels.queue_id=\"${google_cloud_tasks_queue.deliveries.name}\""
      comparison      = "COMPARISON_GT"
      threshold_value = 600000
      duration        = "300s"
      aggregations {
        alignment_period     = "300s"
        per_series_aligner   = "ALIGN_PERCENTILE_99"
        cross_series_reducer = "REDUCE_MAX"
      }
    }
  }
}
