variable "project_id" {
  type = string
}

variable "region" {
  type = string
}

variable "firestore_location" {
  type = string
}

variable "source_archive" {
  type    = string
  default = "../../../dist/functions-source.zip"
}

variable "platform_domain" {
  type = string
}

variable "product_name" {
  type    = string
  default = "sendvia"
}

variable "cors_origins" {
  type = list(string)
}

variable "google_oauth_client_id" {
  type    = string
  default = ""
}

variable "microsoft_client_id" {
  type    = string
  default = ""
}

variable "microsoft_tenant" {
  type    = string
  default = "common"
}

variable "reminders_schedule" {
  type    = string
  default = "*/5 * * * *"
}

variable "deletion_protection" {
  type    = bool
  default = true
}

variable "relay" {
  type = object({
    host       = string
    port       = optional(number, 587)
    security   = optional(string, "starttls")
    username   = string
    event_args = optional(string, "")
  })
}

variable "sendgrid_public_key" {
  type    = string
  default = ""
}

variable "ses_topic_arns" {
  type    = list(string)
  default = []
}

variable "instances" {
  type = map(object({
    min = optional(number, 0)
    max = optional(number, 20)
  }))
  default = {}
}

variable "alert_notification_channels" {
  type    = list(string)
  default = []
}
