# What each function's service account may do: local.roles (main.tf) names the capabilities and
# why; this file turns each capability into the narrowest role.
#
# Mailbox credentials: a custom role, granted on the project with an IAM condition on the secret's
# name (every mailbox secret is `sendvia-mailbox-<digest>`, sendvia.domain.mailbox), rather than
# roles/secretmanager.admin, which would open every secret of the project; and rather than a
# grant per secret, which Terraform cannot make for secrets the functions create at run time.
# Creating a secret is checked on the project, where a name condition cannot apply, so
# `secretmanager.secrets.create` is a second role, unconditioned, held only by the two functions
# that connect mailboxes; it lets them create secrets, not read or change any.
locals {
  mailbox_secret_prefix = "projects/${data.google_project.this.number}/secrets/sendvia-mailbox-"

  grants = merge([
    for function, capabilities in local.roles : {
      for capability, why in capabilities : "${function}.${capability}" => {
        function   = function
        capability = capability
      }
    }
  ]...)
}

resource "google_project_iam_custom_role" "mailbox_secrets" {
  project     = var.project_id
  role_id     = "sendviaMailboxSecrets"
  title       = "sendvia mailbox credentials"
  description = "Read, add, destroy and delete versions of sendvia's per-mailbox secrets (granted with a name condition)."
  permissions = [
    "secretmanager.secrets.get",
    "secretmanager.secrets.delete",
    "secretmanager.versions.add",
    "secretmanager.versions.access",
    "secretmanager.versions.get",
    "secretmanager.versions.list",
    "secretmanager.versions.destroy",
  ]
}

resource "google_project_iam_custom_role" "secret_creator" {
  project     = var.project_id
  role_id     = "sendviaSecretCreator"
  title       = "sendvia secret creator"
  description = "Create a secret (a new mailbox's), nothing else."
  permissions = ["secretmanager.secrets.create"]
}

resource "google_project_iam_member" "firestore" {
  for_each = { for k, g in local.grants : k => g if g.capability == "firestore" }
  project  = var.project_id
  role     = "roles/datastore.user"
  member   = "serviceAccount:${google_service_account.function[each.value.function].email}"
}

resource "google_project_iam_member" "mailbox_secrets" {
  for_each = { for k, g in local.grants : k => g if g.capability == "mailbox_secrets" }
  project  = var.project_id
  role     = google_project_iam_custom_role.mailbox_secrets.id
  member   = "serviceAccount:${google_service_account.function[each.value.function].email}"

  condition {
    title       = "sendvia mailbox secrets only"
    description = "Secrets named sendvia-mailbox-*, and their versions."
    expression  = "resource.name.startsWith(\"${local.mailbox_secret_prefix}\")"
  }
}

resource "google_project_iam_member" "secret_creator" {
  for_each = { for k, g in local.grants : k => g if g.capability == "secret_creator" }
  project  = var.project_id
  role     = google_project_iam_custom_role.secret_creator.id
  member   = "serviceAccount:${google_service_account.function[each.value.function].email}"
}

# The platform's own secrets: read access to the one secret, for the functions that use it.
resource "google_secret_manager_secret_iam_member" "oauth_client" {
  for_each  = { for k, g in local.grants : k => g if g.capability == "oauth_client" }
  project   = var.project_id
  secret_id = google_secret_manager_secret.platform["google-oauth-client-secret"].secret_id
  role      = "roles/secretmanager.secretAccessor"
  member    = "serviceAccount:${google_service_account.function[each.value.function].email}"
}

resource "google_secret_manager_secret_iam_member" "microsoft_client" {
  for_each  = { for k, g in local.grants : k => g if g.capability == "oauth_client" }
  project   = var.project_id
  secret_id = google_secret_manager_secret.platform["microsoft-client-secret"].secret_id
  role      = "roles/secretmanager.secretAccessor"
  member    = "serviceAccount:${google_service_account.function[each.value.function].email}"
}

resource "google_secret_manager_secret_iam_member" "relay_password" {
  for_each  = { for k, g in local.grants : k => g if g.capability == "relay_password" }
  project   = var.project_id
  secret_id = google_secret_manager_secret.platform["relay-password"].secret_id
  role      = "roles/secretmanager.secretAccessor"
  member    = "serviceAccount:${google_service_account.function[each.value.function].email}"
}

resource "google_secret_manager_secret_iam_member" "ticket_key" {
  for_each  = { for k, g in local.grants : k => g if g.capability == "ticket_key" }
  project   = var.project_id
  secret_id = google_secret_manager_secret.platform["task-ticket-key"].secret_id
  role      = "roles/secretmanager.secretAccessor"
  member    = "serviceAccount:${google_service_account.function[each.value.function].email}"
}

# Enqueue on the one queue (not queue admin: the queue is Terraform's), and sign the tasks' OIDC
# tokens as the tasks invoker, which needs actAs on that one account.
resource "google_cloud_tasks_queue_iam_member" "enqueuer" {
  for_each = { for k, g in local.grants : k => g if g.capability == "enqueuer" }
  project  = var.project_id
  location = var.region
  name     = google_cloud_tasks_queue.deliveries.name
  role     = "roles/cloudtasks.enqueuer"
  member   = "serviceAccount:${google_service_account.function[each.value.function].email}"
}

# sync enqueues on receiving's queue only.
resource "google_cloud_tasks_queue_iam_member" "sync_enqueuer" {
  for_each = { for k, g in local.grants : k => g if g.capability == "sync_enqueuer" }
  project  = var.project_id
  location = var.region
  name     = google_cloud_tasks_queue.sync.name
  role     = "roles/cloudtasks.enqueuer"
  member   = "serviceAccount:${google_service_account.function[each.value.function].email}"
}

resource "google_service_account_iam_member" "enqueuer_acts_as_invoker" {
  for_each           = { for k, g in local.grants : k => g if contains(["enqueuer", "sync_enqueuer"], g.capability) }
  service_account_id = google_service_account.tasks_invoker.name
  role               = "roles/iam.serviceAccountUser"
  member             = "serviceAccount:${google_service_account.function[each.value.function].email}"
}

# Every function writes its logs and the metrics the alert policies read.
resource "google_project_iam_member" "log_writer" {
  for_each = local.functions
  project  = var.project_id
  role     = "roles/logging.logWriter"
  member   = "serviceAccount:${google_service_account.function[each.key].email}"
}

# The build account: write the build's logs and the function images, read the source archive.
resource "google_project_iam_member" "build" {
  for_each = toset(["roles/logging.logWriter", "roles/artifactregistry.writer"])
  project  = var.project_id
  role     = each.value
  member   = "serviceAccount:${google_service_account.build.email}"
}

resource "google_storage_bucket_iam_member" "build_reads_source" {
  bucket = google_storage_bucket.source.name
  role   = "roles/storage.objectViewer"
  member = "serviceAccount:${google_service_account.build.email}"
}
