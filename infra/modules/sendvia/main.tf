# sendvia on Google Cloud: one Cloud Functions (2nd gen) function per entry point of
# functions/main.py, all from one source archive, each with its own service account holding only
# the roles it uses (local.roles, with the reason for each); the queue, the scheduler job, the
# Firestore database, the platform's secrets and what an operator must see.

data "google_project" "this" {
  project_id = var.project_id
}

locals {
  queue = jsondecode(file("${path.module}/../../../shared/sendvia/queue.json"))

  # Every entry point. `public`: invokable by allUsers, because the function checks a Firebase ID
  # token or a webhook signature itself; the others only by the one caller named in `invoker`.
  # `concurrency` > 1 where the code is thread-safe (it is: pools and caches take locks), with
  # one vCPU, as Cloud Functions requires for concurrency.
  functions = {
    settings        = { public = true, memory = "512Mi", timeout = 60, concurrency = 40 }
    oauth_start     = { public = true, memory = "512Mi", timeout = 30, concurrency = 40 }
    oauth_callback  = { public = true, memory = "512Mi", timeout = 60, concurrency = 40 }
    test_connection = { public = true, memory = "512Mi", timeout = 120, concurrency = 10 }
    activity        = { public = true, memory = "512Mi", timeout = 60, concurrency = 40 }
    # A manual send waits for the mail server (up to the 30 s reply limit) and may carry 10 MB
    # of attachments.
    send            = { public = true, memory = "1Gi", timeout = 120, concurrency = 20 }
    provider_events = { public = true, memory = "512Mi", timeout = 60, concurrency = 40 }
    # Within the delivery lease (SENDVIA_LEASE_S, 5 minutes): an attempt that outlives it is
    # taken over by the next.
    deliver   = { public = false, memory = "512Mi", timeout = 180, concurrency = 20 }
    reminders = { public = false, memory = "512Mi", timeout = 540, concurrency = 1 }
    # One mailbox per request, within SENDVIA_SYNC_BUDGET_S (120 s) and its lease; whole
    # messages with contacts are read into memory one page at a time.
    sync = { public = false, memory = "1Gi", timeout = 300, concurrency = 4 }
  }
  public_functions = toset([for name, f in local.functions : name if f.public])
  # The callers each internal function accepts: sync's fan-out is Cloud Scheduler's, its
  # per-mailbox tasks Cloud Tasks'.
  internal_invokers = {
    deliver   = [google_service_account.tasks_invoker.email]
    reminders = [google_service_account.scheduler.email]
    sync      = [google_service_account.scheduler.email, google_service_account.tasks_invoker.email]
  }
  invoker_grants = merge([
    for function, members in local.internal_invokers : {
      for member in members : "${function}.${member}" => { function = function, member = member }
    }
  ]...)

  # Deterministic run.app URLs (https://SERVICE-PROJECT_NUMBER.REGION.run.app), known before the
  # functions exist: every function's settings name deliver, reminders and oauth_callback.
  urls = {
    for name, _ in local.functions :
    name => "https://${replace(name, "_", "-")}-${data.google_project.this.number}.${var.region}.run.app"
  }

  # The roles each function's service account holds, and why. Nothing else is granted.
  roles = {
    settings = {
      firestore       = "tenant settings, mailboxes, members"
      mailbox_secrets = "reads a mailbox's credentials to check them (resume), destroys them (forget)"
      secret_creator  = "saving an SMTP mailbox stores its password in a new secret"
      oauth_client    = "resuming a Gmail mailbox refreshes its token with the OAuth client"
    }
    oauth_start = {
      firestore = "the sign-in's state and PKCE verifier"
    }
    oauth_callback = {
      firestore       = "the sign-in's state; the mailbox it connects"
      mailbox_secrets = "stores the refresh token; destroys the one it replaces"
      secret_creator  = "a first connection creates the mailbox's secret"
      oauth_client    = "exchanges the code with the OAuth client's secret"
    }
    test_connection = {
      firestore       = "the mailbox and its test's outcome"
      mailbox_secrets = "logs in with the mailbox's credentials"
      oauth_client    = "refreshes a Gmail mailbox's token"
    }
    activity = {
      firestore = "notifications, the delivery log, recipients"
    }
    send = {
      firestore       = "deliveries, idempotency keys, suppressions"
      mailbox_secrets = "a manual send goes through the mailbox, with its credentials"
      oauth_client    = "refreshes a Gmail mailbox's token"
      relay_password  = "a manual send by the platform's sender"
      enqueuer        = "queues triggered and scheduled emails for deliver"
      ticket_key      = "seals each queued email into its task"
    }
    provider_events = {
      firestore = "delivery states and suppressions from the email service's events"
    }
    deliver = {
      firestore       = "claims and records deliveries, notifies"
      mailbox_secrets = "sends through the mailbox, with its credentials"
      oauth_client    = "refreshes a Gmail mailbox's token"
      relay_password  = "sends by the platform's sender"
      enqueuer        = "a deferred or unconfirmed email gets a task for later"
      ticket_key      = "opens the seal on a task's email instead of reading it"
    }
    reminders = {
      firestore = "finds the scheduled emails that are due"
      enqueuer  = "gives each its task"
    }
    sync = {
      firestore       = "contacts, correspondence, sync cursors; bounces found in mailboxes"
      mailbox_secrets = "reads a receiving mailbox with its credentials"
      oauth_client    = "refreshes a Gmail mailbox's token"
      sync_enqueuer   = "one task per receiving mailbox, and a sync's continuation"
    }
  }
}

# -- identities ----------------------------------------------------------------------------------

resource "google_service_account" "function" {
  for_each     = local.functions
  project      = var.project_id
  account_id   = "sv-${replace(each.key, "_", "-")}"
  display_name = "sendvia ${each.key}"
  description  = "Runs the ${each.key} function: ${join("; ", values(local.roles[each.key]))}."
}

# The identity Cloud Build builds the functions as: organisations created since 2024 give the
# Compute Engine default account no roles, so a build needs one of its own.
resource "google_service_account" "build" {
  project      = var.project_id
  account_id   = "sv-build"
  display_name = "sendvia function builds"
}

# The identity Cloud Tasks signs deliver's OIDC tokens as.
resource "google_service_account" "tasks_invoker" {
  project      = var.project_id
  account_id   = "sv-tasks-invoker"
  display_name = "sendvia Cloud Tasks invoker"
}

# The identity Cloud Scheduler signs reminders' OIDC tokens as.
resource "google_service_account" "scheduler" {
  project      = var.project_id
  account_id   = "sv-scheduler"
  display_name = "sendvia Cloud Scheduler invoker"
}

# -- the functions -------------------------------------------------------------------------------

resource "google_storage_bucket" "source" {
  #checkov:skip=CKV_GCP_62:Holds only the source archive, written by Terraform and read by Cloud Build; Cloud Audit Logs record its admin access, and a log bucket of its own would add nothing.
  project                     = var.project_id
  name                        = "${var.project_id}-sendvia-source"
  location                    = var.region
  uniform_bucket_level_access = true
  public_access_prevention    = "enforced"
  force_destroy               = false

  versioning {
    enabled = true
  }

  lifecycle_rule {
    condition {
      num_newer_versions = 10
    }
    action {
      type = "Delete"
    }
  }
}

# Named after its content: a new archive is a new object, and every function rolls out to it.
resource "google_storage_bucket_object" "source" {
  name   = "functions-source-${filemd5(var.source_archive)}.zip"
  bucket = google_storage_bucket.source.name
  source = var.source_archive
}

resource "google_cloudfunctions2_function" "fn" {
  #checkov:skip=CKV_GCP_124:The public functions are called from browsers and by email services' webhooks on the internet; each checks a Firebase ID token or a signature. deliver, reminders and sync are ALLOW_INTERNAL_ONLY (tests/infra holds that).
  for_each    = local.functions
  project     = var.project_id
  location    = var.region
  name        = replace(each.key, "_", "-")
  description = "sendvia ${each.key}"

  build_config {
    runtime         = "python312"
    entry_point     = each.key
    service_account = google_service_account.build.id
    source {
      storage_source {
        bucket = google_storage_bucket.source.name
        object = google_storage_bucket_object.source.name
      }
    }
  }

  service_config {
    available_memory                 = each.value.memory
    available_cpu                    = "1"
    timeout_seconds                  = each.value.timeout
    max_instance_request_concurrency = each.value.concurrency
    min_instance_count               = lookup(var.instances, each.key, { min = 0, max = 20 }).min
    max_instance_count               = lookup(var.instances, each.key, { min = 0, max = 20 }).max
    # Cloud Tasks and Cloud Scheduler of the same project count as internal traffic.
    ingress_settings                 = each.value.public ? "ALLOW_ALL" : "ALLOW_INTERNAL_ONLY"
    all_traffic_on_latest_revision   = true
    service_account_email            = google_service_account.function[each.key].email
    environment_variables            = merge(local.environment, { THREADS = tostring(each.value.concurrency) })
  }

  depends_on = [google_project_service.api]
}

# Public functions: allUsers may invoke them; each checks the caller itself (Firebase ID tokens;
# the email service's signatures; the OAuth state).
resource "google_cloud_run_v2_service_iam_member" "public" {
  for_each = local.public_functions
  project  = var.project_id
  location = var.region
  name     = google_cloudfunctions2_function.fn[each.key].name
  role     = "roles/run.invoker"
  member   = "allUsers"
}

# Internal functions: only the callers each accepts.
resource "google_cloud_run_v2_service_iam_member" "internal" {
  for_each = local.invoker_grants
  project  = var.project_id
  location = var.region
  name     = google_cloudfunctions2_function.fn[each.value.function].name
  role     = "roles/run.invoker"
  member   = "serviceAccount:${each.value.member}"
}
