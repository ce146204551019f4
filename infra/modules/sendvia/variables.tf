variable "project_id" {
  description = "The Google Cloud project sendvia runs in."
  type        = string
}

variable "region" {
  description = "Region of the functions, the queue and the scheduler job (e.g. europe-west1)."
  type        = string
}

variable "firestore_location" {
  description = "Firestore's location: a multi-region (eur3, nam5) or the region."
  type        = string
}

variable "source_archive" {
  description = "Path of dist/functions-source.zip (make package): what every function runs."
  type        = string
}

variable "platform_domain" {
  description = "Domain of the platform's own sender (noreply@<domain>): SENDVIA_PLATFORM_DOMAIN."
  type        = string
}

variable "product_name" {
  description = "The platform's name in emails sent on its own behalf (SENDVIA_PRODUCT_NAME)."
  type        = string
  default     = "sendvia"
}

variable "cors_origins" {
  description = "Origins of the host product's web frontends allowed to call the public functions."
  type        = list(string)
}

variable "google_oauth_client_id" {
  description = "Client id of the OAuth client for \"Sign in with Google\"; empty: Gmail mailboxes are off."
  type        = string
  default     = ""
}

variable "microsoft_client_id" {
  description = "Application (client) id of the Microsoft Entra app for \"Sign in with Microsoft\"; empty: Microsoft mailboxes are off."
  type        = string
  default     = ""
}

variable "microsoft_tenant" {
  description = "Which Microsoft accounts may sign in: common (work and personal), organizations, consumers, or one tenant id."
  type        = string
  default     = "common"
}

variable "relay" {
  description = "The platform's own sender: an email service's SMTP endpoint. Its password goes in the Secret Manager secret this module creates (output platform_secrets), never here."
  type = object({
    host       = string
    port       = optional(number, 587)
    security   = optional(string, "starttls")
    username   = string
    event_args = optional(string, "")
  })
}

variable "sendgrid_public_key" {
  description = "SendGrid's signed Event Webhook verification key (base64), when the relay is SendGrid."
  type        = string
  default     = ""
}

variable "ses_topic_arns" {
  description = "SNS topics whose SES notifications provider_events accepts, when the relay is SES."
  type        = list(string)
  default     = []
}

variable "instances" {
  description = "Min and max instances per function; functions not named keep the defaults."
  type = map(object({
    min = optional(number, 0)
    max = optional(number, 20)
  }))
  default = {}
}

variable "reminders_schedule" {
  description = "How often Cloud Scheduler runs the reminder batch (cron). Every 5 minutes matches the 15-minute look-ahead."
  type        = string
  default     = "*/5 * * * *"
}

variable "alert_notification_channels" {
  description = "Monitoring notification channel ids the alert policies notify."
  type        = list(string)
  default     = []
}

variable "deletion_protection" {
  description = "Protect the Firestore database from terraform destroy."
  type        = bool
  default     = true
}
