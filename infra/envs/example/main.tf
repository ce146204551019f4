# One sendvia deployment: copy this folder per environment (staging, production), fill in
# terraform.tfvars (see terraform.tfvars.example) and keep the state in a bucket of your own.

terraform {
  required_version = ">= 1.6.0"

  required_providers {
    google = {
      source  = "hashicorp/google"
      version = "~> 6.14"
    }
  }

  # backend "gcs" {
  #   bucket = "acme-terraform-state"
  #   prefix = "sendvia/production"
  # }
}

provider "google" {
  project = var.project_id
  region  = var.region
}

module "sendvia" {
  source = "../../modules/sendvia"

  project_id                  = var.project_id
  region                      = var.region
  firestore_location          = var.firestore_location
  source_archive              = var.source_archive
  platform_domain             = var.platform_domain
  product_name                = var.product_name
  cors_origins                = var.cors_origins
  google_oauth_client_id      = var.google_oauth_client_id
  microsoft_client_id         = var.microsoft_client_id
  microsoft_tenant            = var.microsoft_tenant
  reminders_schedule          = var.reminders_schedule
  deletion_protection         = var.deletion_protection
  relay                       = var.relay
  sendgrid_public_key         = var.sendgrid_public_key
  ses_topic_arns              = var.ses_topic_arns
  instances                   = var.instances
  alert_notification_channels = var.alert_notification_channels
}

output "function_urls" {
  value = module.sendvia.function_urls
}

output "oauth_redirect_uri" {
  value = module.sendvia.oauth_redirect_uri
}

output "platform_secrets" {
  value = module.sendvia.platform_secrets
}
