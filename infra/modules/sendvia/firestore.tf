# Firestore (native mode), every composite index and field override of infra/firestore.indexes.json
# (the one list, which the emulator-backed tests query against too), and TTL policies for what
# expires.
locals {
  firestore_config = jsondecode(file("${path.module}/../../firestore.indexes.json"))
  # Keyed by what each index is, so adding one to the file never rebuilds the others.
  indexes = {
    for index in local.firestore_config.indexes :
    "${index.collectionGroup}/${index.queryScope}/${join(",", [for f in index.fields : "${f.fieldPath}:${f.order}"])}" => index
  }
  field_overrides = {
    for o in local.firestore_config.fieldOverrides : "${o.collectionGroup}.${o.fieldPath}" => o
  }

  # Documents with a lifetime, by the timestamp field the code writes. Idempotency keys need none:
  # a key names its delivery, which is the delivery log and is kept; the key's 24 hours are
  # checked when it is used again (services/accept.py).
  ttl_fields = {
    oauth_states              = "expires_at" # a sign-in's state, 15 minutes
    provider_events           = "expire_at"  # the mark that an event was recorded, 30 days
    unmatched_provider_events = "expire_at"  # events naming no known email, 90 days
  }
}

resource "google_firestore_database" "this" {
  project                           = var.project_id
  name                              = "(default)"
  location_id                       = var.firestore_location
  type                              = "FIRESTORE_NATIVE"
  point_in_time_recovery_enablement = "POINT_IN_TIME_RECOVERY_ENABLED"
  delete_protection_state           = var.deletion_protection ? "DELETE_PROTECTION_ENABLED" : "DELETE_PROTECTION_DISABLED"
  deletion_policy                   = var.deletion_protection ? "ABANDON" : "DELETE"

  depends_on = [google_project_service.api]
}

resource "google_firestore_index" "composite" {
  for_each    = local.indexes
  project     = var.project_id
  database    = google_firestore_database.this.name
  collection  = each.value.collectionGroup
  query_scope = each.value.queryScope

  dynamic "fields" {
    for_each = each.value.fields
    content {
      field_path = fields.value.fieldPath
      order      = fields.value.order
    }
  }
}

resource "google_firestore_field" "override" {
  for_each   = local.field_overrides
  project    = var.project_id
  database   = google_firestore_database.this.name
  collection = each.value.collectionGroup
  field      = each.value.fieldPath

  index_config {
    dynamic "indexes" {
      for_each = each.value.indexes
      content {
        order       = indexes.value.order
        query_scope = indexes.value.queryScope
      }
    }
  }
}

resource "google_firestore_field" "ttl" {
  for_each   = local.ttl_fields
  project    = var.project_id
  database   = google_firestore_database.this.name
  collection = each.key
  field      = each.value

  ttl_config {}

  # A timestamp nobody queries: no single-field indexes.
  index_config {}
}
